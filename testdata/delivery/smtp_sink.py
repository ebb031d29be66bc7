"""An SMTP server for the EMAILEXPORT tests, run as

    python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c smtp_sink.Sink OUTDIR

(with this directory on PYTHONPATH). Every accepted message is written to OUTDIR as
<n>.eml, with its envelope recipients in <n>.rcpt (one a line); each file appears whole
(written, then renamed). Recipients whose address starts with "refuse" are rejected with
550.
"""

import os


class Sink:
    def __init__(self, outdir):
        self.outdir = outdir
        self.count = 0

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error("Sink takes the output directory")
        return cls(args[0])

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("refuse"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.outdir, str(self.count))
        for ext, data in ((".rcpt", "\n".join(envelope.rcpt_tos).encode()), (".eml", envelope.original_content)):
            with open(base + ext + ".part", "wb") as f:
                f.write(data)
            os.rename(base + ext + ".part", base + ext)
        return "250 Message accepted"
