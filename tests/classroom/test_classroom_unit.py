"""Pure logic of a class: names, the state file's records, the capacity estimate, cgroup
values, the grade's CSV. No root, no lab."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from toolkit.classroom import capacity, cgroups, names
from toolkit.classroom.grading import CSV_HEADER, StudentGrade
from toolkit.classroom.records import ClassRecord, Limits, StudentRecord
from toolkit.errors import UsageError
from toolkit.exercise.grade import Criterion, Grade
from toolkit.lab.records import StateError


def test_student_labs_are_valid_lab_names_up_to_the_largest_class() -> None:
    from toolkit.lab.names import validate_lab_name

    cls = "c" * names.CLASS_NAME_MAX
    assert validate_lab_name(names.lab_of(cls, names.student_id(names.MAX_STUDENTS)))
    with pytest.raises(UsageError, match="too long"):
        names.validate_class_name(cls + "x")


@pytest.mark.parametrize("arg", ["s3", "3", "demo-s3"])
def test_a_student_is_named_three_ways(arg: str) -> None:
    assert names.parse_student("demo", arg, ["s1", "s2", "s3"]) == "s3"


def test_an_unknown_student_names_the_class_students() -> None:
    with pytest.raises(UsageError) as err:
        names.parse_student("demo", "s9", ["s1", "s2"])
    assert err.value.message == "class 'demo' has no student 's9'"
    assert "s1" in (err.value.hint or "")


def test_the_class_record_reads_back_equal() -> None:
    rec = ClassRecord(
        "demo", "up", "/x/topology.yml", created=1.0, exercise="security-update",
        exercise_path="/x/e.yml", seed=7, provisioned=True, limits=Limits(0.5, 256),
        students=(StudentRecord("s1", "demo-s1", "ready", None, 3.5),
                  StudentRecord("s10", "demo-s10", "failed", error="up: boom"),
                  StudentRecord("s2", "demo-s2")),
        golden="demo-g",
    )  # fmt: skip
    back = ClassRecord.from_json(rec.to_json(), "demo")
    assert back.student_ids == ["s1", "s2", "s10"]  # numeric order, whatever the file's
    assert back._replace(students=rec.students) == rec


@pytest.mark.parametrize(
    ("change", "problem"),
    [({"version": 2}, "version 2"), ({"provisioned": "yes"}, "provisioned is 'yes'"),
     ({"students": {"s1": {"lab": "demo-s1", "phase": "flying"}}}, "phase is 'flying'")],
)  # fmt: skip
def test_a_wrong_class_file_is_refused_in_one_line(change: dict, problem: str) -> None:
    raw = ClassRecord("demo", "up", "/t.yml").to_json() | change
    with pytest.raises(StateError) as err:
        ClassRecord.from_json(raw, "demo")
    assert problem in err.value.message
    assert "ovlab class down demo" in (err.value.hint or "")


def test_the_estimate_refuses_a_class_larger_than_the_limit() -> None:
    est = capacity.estimate(10, 2, True, available_mib=2000)
    per = 2 * capacity.VM_MIB_PROVISIONED + capacity.STUDENT_MARGIN_MIB
    assert (est.per_student_mib, est.needed_mib, est.limit_mib) == (per, 10 * per, 1600)
    assert est.max_students == 1600 // per
    with pytest.raises(UsageError) as err:
        capacity.require_fits(est)
    assert f"10 × {per} MiB per student" in err.value.message
    assert "1600 MiB" in err.value.message
    assert f"at most {est.max_students} students" in (err.value.hint or "")
    capacity.require_fits(capacity.estimate(est.max_students, 2, True, available_mib=2000))


def test_a_memory_limit_caps_the_estimate() -> None:
    assert capacity.per_student_mib(2, True, memory_limit_mib=100) == 100
    assert capacity.per_student_mib(2, False) == 2 * capacity.VM_MIB_BARE + 32


def test_mem_available_is_read_from_meminfo(tmp_path: Path) -> None:
    f = tmp_path / "meminfo"
    f.write_text("MemTotal: 100 kB\nMemAvailable:   2097152 kB\n")
    assert capacity.mem_available_mib(str(f)) == 2048


def test_cpu_max_is_quota_and_period() -> None:
    assert cgroups.cpu_max(0.5) == "50000 100000"
    assert cgroups.cpu_max(2) == "200000 100000"
    assert cgroups.cpu_max(0.001) == "1000 100000"  # the kernel's smallest quota


def test_cgroup2_mounts_are_found_in_mountinfo(tmp_path: Path) -> None:
    f = tmp_path / "mountinfo"
    f.write_text(
        "30 25 0:26 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n"
        "35 25 0:31 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw\n"
    )
    assert cgroups.cgroup2_mounts(str(f)) == ["/sys/fs/cgroup/unified"]


def _grade(passed: bool) -> Grade:
    crit = (Criterion("verify", passed), Criterion("ping", True))
    return Grade("demo-s1", "security-update", crit, 1, 2, 65.0)


def test_the_csv_has_one_row_per_student_under_its_header() -> None:
    rows = [
        StudentGrade("demo", "s1", "demo-s1", "security-update", _grade(True)),
        StudentGrade("demo", "s2", "demo-s2", "security-update", None, "lab is down"),
    ]
    text = "\n".join([CSV_HEADER, *(r.csv_line() for r in rows)])
    got = list(csv.DictReader(io.StringIO(text)))
    assert [(r["student"], r["result"]) for r in got] == [("s1", "pass"), ("s2", "error")]
    assert got[0]["detail"] == "verify=pass;ping=pass"
    assert got[1]["detail"] == "lab is down"
    assert rows[0].passed and not rows[1].passed


def test_a_student_cgroup_gets_its_limits(tmp_path: Path) -> None:
    # A plain directory stands in for the cgroup2 mount: the files written are the API.
    path = Path(cgroups.create(str(tmp_path), "demo", "s1", 0.5, 256))
    assert path == tmp_path / "ovlab-class-demo" / "s1"
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+cpu +memory"
    assert (path.parent / "cgroup.subtree_control").read_text() == "+cpu +memory"
    assert (path / "cpu.max").read_text() == "50000 100000"
    assert (path / "memory.max").read_text() == str(256 * 1024 * 1024)


def test_the_largest_class_offered_is_never_above_the_students_limit() -> None:
    est = capacity.estimate(2, 2, True, available_mib=10_000_000)
    assert est.max_students == names.MAX_STUDENTS


def test_a_class_name_too_long_for_a_lab_name_says_the_class_limit() -> None:
    with pytest.raises(UsageError) as err:
        names.validate_class_name("a" * 25)
    assert f"at most {names.CLASS_NAME_MAX})" in err.value.message
