/* SPDX-License-Identifier: MIT */
#include "engines/testhooks.h"

/* Only in the test build of the engines (FB_UNITTEST); see testhooks.h. */
struct fb__test_hooks fb__test_hooks;
