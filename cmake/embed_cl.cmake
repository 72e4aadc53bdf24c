# Turns one OpenCL C source into a C array so the library needs no files at
# run time. Invoked at build time: cmake -DIN=x.cl -DOUT=x.c -DNAME=sym -P embed_cl.cmake
# A line `#include "shared/<file>"` is replaced by that file (cl/shared/):
# code two kernel families must compute identically (the GELU of the
# elementwise op and of the GEMM epilogue).
file(READ "${IN}" text)
get_filename_component(dir "${IN}" DIRECTORY)
string(REGEX MATCHALL "#include \"shared/[^\"]+\"" incs "${text}")
foreach(inc IN LISTS incs)
  string(REGEX REPLACE "#include \"(shared/[^\"]+)\"" "\\1" name "${inc}")
  file(READ "${dir}/${name}" body)
  string(REPLACE "${inc}" "${body}" text "${text}")
endforeach()
string(HEX "${text}" hex)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE "${OUT}" "/* generated from ${IN}; do not edit */\nconst char ${NAME}[] = {${body}0x00};\n")
