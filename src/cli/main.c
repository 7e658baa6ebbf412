#include <stdio.h>
int main(void) { fprintf(stderr, "error: not built yet\n"); return 1; }
