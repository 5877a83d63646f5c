# One place for compiler warnings. ASSETS_WERROR turns them into errors (CI sets it).
option(ASSETS_WERROR "Treat warnings as errors" OFF)

function(assets_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
    -Wnull-dereference -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
  if(ASSETS_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
