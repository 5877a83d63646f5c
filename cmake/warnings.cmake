# One place for compiler warnings. ASSETS_WERROR turns them into errors (CI sets it).
option(ASSETS_WERROR "Treat warnings as errors" OFF)

# Not -Wnull-dereference: at -O2 GCC 12 reports false positives inside libstdc++.
function(assets_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wcast-align -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough
    $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual>)
  if(ASSETS_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
