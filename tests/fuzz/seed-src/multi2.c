static int helper(int x) { return x - 1; }
extern int one(int);
extern const char *greeting;
static char scratch[256];
int two(int x) { scratch[x & 255] = greeting[0]; return helper(one(x)); }
void _start(void) { for (int i = 0;; i++) two(i); }
