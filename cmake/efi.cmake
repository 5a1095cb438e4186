# The efi platform: agevisor.efi, an x86_64 PE32+ UEFI application built freestanding with
# Debian's GNU-EFI and NASM.
#
# GNU-EFI's own recipe links with undefined symbols and exits 0, and silently drops or
# misplaces sections that C++ emits. So we link with our own linker script
# (boot/agevisor_efi.lds), with --no-undefined -z text, and check the linked ELF before
# objcopy turns it into PE32+ (tools/check-efi-link). See docs/boot-and-harness.md.
set(CMAKE_ASM_NASM_OBJECT_FORMAT elf64)  # must precede enable_language
enable_language(ASM_NASM)

find_program(AGEVISOR_LD ld REQUIRED)
find_program(AGEVISOR_OBJCOPY objcopy REQUIRED)
find_program(AGEVISOR_OBJDUMP objdump REQUIRED)
find_program(AGEVISOR_READELF readelf REQUIRED)
find_package(Python3 REQUIRED COMPONENTS Interpreter)

set(GNUEFI_INCLUDE_DIR /usr/include/efi CACHE PATH "GNU-EFI headers")
set(GNUEFI_LIB_DIR /usr/lib CACHE PATH "GNU-EFI crt0, libefi.a, libgnuefi.a")
set(GNUEFI_CRT0 ${GNUEFI_LIB_DIR}/crt0-efi-x86_64.o)
foreach(f ${GNUEFI_CRT0} ${GNUEFI_LIB_DIR}/libefi.a ${GNUEFI_LIB_DIR}/libgnuefi.a
          ${GNUEFI_INCLUDE_DIR}/efi.h)
  if(NOT EXISTS ${f})
    message(FATAL_ERROR "GNU-EFI file ${f} is missing: run tools/setup (package gnu-efi)")
  endif()
endforeach()

# Every object of the efi build is target code: position independent (GNU-EFI relocates the
# image itself with _relocate), no red zone (interrupts and firmware callbacks may use the
# stack below RSP), MS ABI for firmware calls, and no C++ runtime. Hidden visibility: the
# image exports nothing, so inline variables and templates are reached PC-relative, never
# through a GOT entry whose R_X86_64_GLOB_DAT relocation GNU-EFI cannot apply.
set(AGEVISOR_EFI_CXX_FLAGS
  -ffreestanding -fpic -fno-stack-protector -fshort-wchar -mno-red-zone
  -maccumulate-outgoing-args -fno-asynchronous-unwind-tables -fno-unwind-tables
  -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-use-cxa-atexit -fvisibility=hidden
  -DGNU_EFI_USE_MS_ABI)
foreach(flag ${AGEVISOR_EFI_CXX_FLAGS})
  add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:${flag}>)
endforeach()

set(AGEVISOR_CHECK_EFI_LINK ${PROJECT_SOURCE_DIR}/tools/check-efi-link)
set(AGEVISOR_CHECK_GENERAL_REGS ${PROJECT_SOURCE_DIR}/tools/check-general-regs)

# agevisor_exit_path(target): `target` (an OBJECT library) holds code reachable from a VM
# exit. A VM exit does not save the guest's SSE/AVX state, so such code must not touch
# xmm/ymm/zmm: it is compiled with -mgeneral-regs-only, and a check over its objects fails
# the build if any vector register still appears (e.g. from inline assembly or NASM).
function(agevisor_exit_path target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:C,CXX>:-mgeneral-regs-only>)
  set(stamp ${CMAKE_CURRENT_BINARY_DIR}/${target}.general-regs.stamp)
  add_custom_command(
    OUTPUT ${stamp}
    COMMAND ${Python3_EXECUTABLE} ${AGEVISOR_CHECK_GENERAL_REGS} --objdump ${AGEVISOR_OBJDUMP}
            $<TARGET_OBJECTS:${target}>
    COMMAND ${CMAKE_COMMAND} -E touch ${stamp}
    DEPENDS ${target} $<TARGET_OBJECTS:${target}> ${AGEVISOR_CHECK_GENERAL_REGS}
    COMMAND_EXPAND_LISTS
    COMMENT "Checking ${target} objects for SSE/AVX register use")
  add_custom_target(${target}_general_regs_check ALL DEPENDS ${stamp})
endfunction()

# agevisor_efi_image(NAME OBJECTS libs... ARCHIVES libs...): links NAME.so from GNU-EFI's
# crt0, every object of the OBJECT libraries and what is needed from the STATIC ones, checks
# it, and converts it to NAME.efi (PE32+ application).
function(agevisor_efi_image name)
  cmake_parse_arguments(ARG "" "" "OBJECTS;ARCHIVES" ${ARGN})
  set(objects)
  set(deps)
  foreach(lib ${ARG_OBJECTS})
    list(APPEND objects $<TARGET_OBJECTS:${lib}>)
    list(APPEND deps ${lib} $<TARGET_OBJECTS:${lib}>)
  endforeach()
  set(archives)
  foreach(lib ${ARG_ARCHIVES})
    list(APPEND archives $<TARGET_FILE:${lib}>)
    list(APPEND deps ${lib} $<TARGET_FILE:${lib}>)
  endforeach()
  set(lds ${PROJECT_SOURCE_DIR}/boot/agevisor_efi.lds)
  set(so ${CMAKE_BINARY_DIR}/${name}.so)
  set(efi ${CMAKE_BINARY_DIR}/${name}.efi)
  add_custom_command(
    OUTPUT ${so}
    COMMAND ${AGEVISOR_LD} -nostdlib -shared -Bsymbolic --no-undefined -z text
            -z noexecstack --warn-common -T ${lds} -o ${so}
            ${GNUEFI_CRT0} ${objects} --start-group ${archives} --end-group
            -L${GNUEFI_LIB_DIR} -lefi -lgnuefi
    DEPENDS ${deps} ${lds} ${GNUEFI_CRT0}
    COMMAND_EXPAND_LISTS
    COMMENT "Linking ${name}.so")
  # The check runs before objcopy, so a rejected image never becomes a .efi.
  add_custom_command(
    OUTPUT ${efi}
    COMMAND ${CMAKE_COMMAND} -E rm -f ${efi}
    COMMAND ${Python3_EXECUTABLE} ${AGEVISOR_CHECK_EFI_LINK} --readelf ${AGEVISOR_READELF} ${so}
    COMMAND ${AGEVISOR_OBJCOPY} -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel
            -j .rela -j .reloc --target=efi-app-x86_64 ${so} ${efi}
    DEPENDS ${so} ${AGEVISOR_CHECK_EFI_LINK}
    COMMENT "Checking ${name}.so and converting it to ${name}.efi")
  add_custom_target(${name} ALL DEPENDS ${efi})
endfunction()
