// GNU-EFI's headers, wrapped for C++. boot/ is the only layer that includes this.
#pragma once

extern "C" {
#include <efi.h>
#include <efilib.h>
}
