"""Files an export produces, and a zip of them whose bytes depend on nothing but their
contents: entries sorted by name, one fixed date, fixed permissions."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

# the earliest date a zip can hold: no build time leaks into the bytes
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class File:
    path: str            # relative, with forward slashes
    content: str | bytes

    @property
    def data(self) -> bytes:
        return self.content.encode("utf-8") if isinstance(self.content, str) else self.content


def zip_bytes(files: list[File]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(files, key=lambda f: f.path):
            info = zipfile.ZipInfo(f.path, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            z.writestr(info, f.data, compresslevel=6)
    return buffer.getvalue()


def write_files(files: list[File], out_dir: Path) -> list[Path]:
    written = []
    for f in files:
        path = out_dir / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.data)
        written.append(path)
    return written
