CMakeFiles/triaged_lib.dir/generated/dashboard_files.c.o: \
 /work/main/build2/generated/dashboard_files.c /usr/include/stdc-predef.h \
 /work/main/service/io/dashboard_files.h \
 /usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h
