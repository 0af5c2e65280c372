#include <stdio.h>

#include "fetchbench/fetchbench.h"

int main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  printf("fetchbench %s\n", fb_version());
  return 0;
}
