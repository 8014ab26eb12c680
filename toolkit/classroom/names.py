"""Class and student names, and the lab name of each student's copy.

A student's lab is ``<class>-s<k>`` (k from 1): it must be a valid lab name
(``toolkit.lab.names``, at most 20 characters), so a class name has at most 15.
"""

from __future__ import annotations

from toolkit.errors import UsageError
from toolkit.lab.names import LAB_NAME_MAX, validate_lab_name

MAX_STUDENTS = 200  # three digits in "-sNNN"; beyond this one server is not the tool
CLASS_NAME_MAX = LAB_NAME_MAX - len("-s") - len(str(MAX_STUDENTS))


def validate_class_name(name: str) -> str:
    """``name`` if it is a usable class name, else UsageError saying why (exit 2)."""
    if len(name) > CLASS_NAME_MAX:  # first: the lab-name check would say "at most 20"
        raise UsageError(
            f"class name {name!r} is too long ({len(name)} characters, at most {CLASS_NAME_MAX})",
            hint="each student's lab is CLASS-sN and a lab name has at most 20 characters",
        )
    try:
        validate_lab_name(name)
    except UsageError as exc:
        raise UsageError(
            exc.message.replace("lab name", "class name", 1),
            hint=f"a class name is 1-{CLASS_NAME_MAX} lowercase letters, digits or '-',"
            " starting with a letter (each student's lab is CLASS-sN)",
        ) from None
    return name


def student_id(k: int) -> str:
    """The id of the k-th student (1-based): ``s1``, ``s2``, …"""
    return f"s{k}"


def lab_of(cls: str, student: str) -> str:
    """The lab name of a student's copy: ``<class>-<student>``."""
    return f"{cls}-{student}"


def check_count(n: int) -> int:
    """``n`` if it is a possible number of students (1..MAX_STUDENTS), else UsageError."""
    if n < 1 or n > MAX_STUDENTS:
        raise UsageError(
            f"--students {n}: a class has 1 to {MAX_STUDENTS} students",
            hint="give the number of students, e.g. --students 8",
        )
    return n


def parse_student(cls: str, arg: str, known: list[str]) -> str:
    """The student id ``arg`` designates: ``s3``, ``3`` or the lab name ``<class>-s3``.

    Raises UsageError naming the class's students when none matches.
    """
    from toolkit.suggest import did_you_mean

    cand = arg
    if cand.isdigit():
        cand = student_id(int(cand))
    elif cand.startswith(f"{cls}-"):
        cand = cand[len(cls) + 1 :]
    if cand in known:
        return cand
    listing = ", ".join(known[:8]) + (", …" if len(known) > 8 else "")
    raise UsageError(
        f"class {cls!r} has no student {arg!r}",
        hint=did_you_mean(cand, known) or f"its students are {listing or 'none'}",
    )
