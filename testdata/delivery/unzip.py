"""Extracts a ZIP into a directory with an independent reader, for the export tests.

usage: unzip.py ARCHIVE OUTDIR [PASSWORD]

Without a password the standard library's zipfile reads it; with one, pyzipper (which
reads WinZip AES). Prints each entry's name, one a line. Exits 3 when the password is wrong.
"""

import sys
import zipfile

archive, outdir = sys.argv[1], sys.argv[2]
password = sys.argv[3] if len(sys.argv) > 3 else None

if password is None:
    zf = zipfile.ZipFile(archive)
else:
    import pyzipper

    zf = pyzipper.AESZipFile(archive)
    zf.setpassword(password.encode())
with zf:
    bad = zf.testzip() if password is None else None
    if bad is not None:
        sys.exit(f"corrupt entry {bad}")
    for info in zf.infolist():
        if password is not None and not (info.flag_bits & 0x1):
            sys.exit(f"{info.filename} is not encrypted")
        try:
            zf.extract(info, outdir)
        except RuntimeError as e:
            print(e, file=sys.stderr)
            sys.exit(3)
        print(info.filename)
