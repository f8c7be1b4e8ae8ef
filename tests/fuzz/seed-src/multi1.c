static int helper(int x) { return x * 3; }
const char *greeting = "hello, dsymfs";
const int table[4] = {1, 2, 3, 5};
int counter;
int one(int x) { counter++; return helper(x) + table[x & 3]; }
