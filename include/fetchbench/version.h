/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_VERSION_H
#define FETCHBENCH_VERSION_H

/* The version string ("0.2.0"), static. */
const char *fb_version(void);

/* The default User-Agent, "fetchbench/VERSION", static. */
const char *fb_user_agent(void);

#endif /* FETCHBENCH_VERSION_H */
