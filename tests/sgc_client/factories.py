"""Generated CSV files for the client's tests, with malformed rows at known places."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

LEVELS = ("BACHELOR", "MASTER", "DOCTORATE")


def esi_of(i: int) -> str:
    return f"urn:schac:personalUniqueCode:int:esi:FR:{i:08d}"


@dataclass
class PersonsFile:
    path: Path
    rows: int
    valid: list[str] = field(default_factory=list)
    # line number in the file -> the word its failure reason must contain
    malformed: dict[int, str] = field(default_factory=dict)


def write_persons_csv(path: Path, rows: int, *, start: int = 0) -> PersonsFile:
    """``rows`` persons; every 97th has a bad ESI, 89th a bad e-mail, 83rd too few columns,
    79th an unknown academic level."""
    result = PersonsFile(path=path, rows=rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["esi", "fullName", "email", "phone", "academicLevel"])
        for i in range(start, start + rows):
            line = i - start + 2  # the header is line 1
            cells = [
                esi_of(i),
                f"Student {i}",
                f"s{i}@uni.example",
                "+33 1 23 45 67 89",
                LEVELS[i % 3],
            ]
            if i % 97 == 5:
                cells[0] = f"not-an-esi-{i}"
                result.malformed[line] = "esi"
            elif i % 89 == 6:
                cells[2] = f"student{i}-at-uni.example"
                result.malformed[line] = "email"
            elif i % 83 == 7:
                cells = cells[:3]
                result.malformed[line] = "columns"
            elif i % 79 == 8:
                cells[4] = "POSTDOC"
                result.malformed[line] = "academicLevel"
            else:
                result.valid.append(esi_of(i))
            writer.writerow(cells)
    return result
