"""Prints a message's first attachment's file name, then writes its bytes to OUTFILE.

usage: attachment.py MESSAGE.eml OUTFILE
"""

import email
import email.policy
import sys

with open(sys.argv[1], "rb") as f:
    msg = email.message_from_binary_file(f, policy=email.policy.default)
for part in msg.iter_attachments():
    with open(sys.argv[2], "wb") as out:
        out.write(part.get_payload(decode=True))
    print(part.get_filename())
    print(msg["To"])
    break
else:
    sys.exit("no attachment")
