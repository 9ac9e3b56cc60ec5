// The wide-character curses API (wadd_wch, get_wch, cchar_t) needs this before the header.
#define _XOPEN_SOURCE_EXTENDED 1
#include <locale.h>
#include <ncursesw/curses.h>
// Terminal column widths for the TUI's text measuring. glibc declares it only under
// _XOPEN_SOURCE, which the Glibc module is not built with; this repeats its prototype.
#include <wchar.h>
extern int wcwidth(wchar_t c);
static inline int dt_colors(void) { return COLORS; }
