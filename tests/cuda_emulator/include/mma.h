// The emulator's <mma.h>: nvcuda::wmma lives in cuda_runtime.h.
#pragma once
#include <cuda_runtime.h>
