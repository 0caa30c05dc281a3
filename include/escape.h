/* escape.h — text shown to a person, with its control bytes made visible.
 *
 * A file name may hold any byte but '/' and NUL: a newline in it would split one error into two
 * lines (SPEC §7: one line each), an ESC would reach the terminal as a command. Everything settle
 * prints on stderr goes through log.c, which writes the whole message with escape_fwrite, so every
 * file name (and any other text from outside) in a message is covered in one place.
 *
 * The escapes: \n \r \t \e for those, \xHH for the other C0 bytes, DEL, C1 controls (U+0080..
 * U+009F, which some terminals obey too) and bytes that are not valid UTF-8. Everything else,
 * UTF-8 text and backslashes included, is written as it is.
 */
#ifndef SETTLE_ESCAPE_H
#define SETTLE_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

/* Writes s[0..len) to out, escaped. */
void escape_fwrite(FILE *out, const char *s, size_t len);

/* s (NUL-terminated) escaped into buf (always NUL-terminated; cut short, on a whole escape, when
 * buf is too small). Returns buf. For text printed other than through log.c (stdout listings). */
const char *escape_text(char *buf, size_t cap, const char *s);

#endif
