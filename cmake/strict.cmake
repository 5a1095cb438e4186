# Warnings and language restrictions for agevisor's own code (not for GoogleTest or
# Google Benchmark headers, which are included as system headers).
add_library(agevisor_strict INTERFACE)
target_compile_options(agevisor_strict INTERFACE
  $<$<COMPILE_LANGUAGE:C,CXX>:-Wall -Wextra -Wconversion -Wsign-conversion -Wshadow
  -Wnon-virtual-dtor -Wimplicit-fallthrough -Werror>)

# The language subset every target build obeys; pure layers use it on host too, so what
# passes host tests compiles unchanged for the target.
add_library(agevisor_freestanding_lang INTERFACE)
target_compile_options(agevisor_freestanding_lang INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-fno-exceptions -fno-rtti -fno-threadsafe-statics
  -fno-use-cxa-atexit>)
