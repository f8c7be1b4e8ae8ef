int square(int x) {
  return x * x;
}
static int twice(int x) { return x + x; }
int g = 3;
void _start(void) { for (;;) g = twice(square(7)); }
