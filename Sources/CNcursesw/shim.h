// The wide-character curses API (wadd_wch, get_wch, cchar_t) needs this before the header.
#define _XOPEN_SOURCE_EXTENDED 1
#include <locale.h>
#include <ncursesw/curses.h>
