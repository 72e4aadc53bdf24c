# Turns one OpenCL C source into a C array so the library needs no files at
# run time. Invoked at build time: cmake -DIN=x.cl -DOUT=x.c -DNAME=sym -P embed_cl.cmake
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE "${OUT}" "/* generated from ${IN}; do not edit */\nconst char ${NAME}[] = {${body}0x00};\n")
