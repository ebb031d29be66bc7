"""Prints each entry of a ZIP with its time, as the standard library's zipfile reads it.

usage: zip_times.py ARCHIVE

One line per entry: `NAME YYYY-MM-DDTHH:MM:SS`.
"""

import sys
import zipfile

with zipfile.ZipFile(sys.argv[1]) as zf:
    for info in zf.infolist():
        print(info.filename, "%04d-%02d-%02dT%02d:%02d:%02d" % info.date_time)
