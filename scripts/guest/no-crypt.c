/* crypt() for the Typevisor default guest's dropbear. The guest keeps no
 * password hashes (root's password is blank) and Debian's riscv64 cross
 * toolchain has no libcrypt, so this crypt() knows no hash method: it fails
 * as crypt() does for an unknown salt, and dropbear then treats a password
 * login as a locked account. Blank-password (dropbear -B) and public-key
 * logins never call it. */
#include <errno.h>
#include <stddef.h>

char *crypt(const char *key, const char *salt)
{
	(void)key;
	(void)salt;
	errno = EINVAL;
	return NULL;
}
