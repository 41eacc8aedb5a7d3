// Precompiled header for the libtorch-based sources: ATen costs ~6 s per file otherwise.
#pragma once
#include <ATen/ATen.h>
