/* Stand-in for bcryptprimitives.dll, which Wine 8.0 lacks.
 *
 * Rust's std (1.78 and later) imports ProcessPrng from bcryptprimitives.dll for its random
 * numbers (HashMap keys, tempfile names). Without the DLL every Windows test binary dies at
 * load time under Wine 8.0 with status 0xc0000135 (exit code 53). This stub forwards to
 * BCryptGenRandom of bcrypt.dll, which Wine has. scripts/windows.sh builds it into the Wine
 * prefix; real Windows (10 and later) has the genuine DLL. */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
