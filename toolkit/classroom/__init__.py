"""A class: N isolated copies of one lab on one server, one per student, graded together.

Each copy is an ordinary lab (``toolkit.lab``) named ``<class>-s<k>``: its own underlay
namespace, VMs and state, with the same addresses as every other copy. The class's own
state file (``toolkit.classroom.records``) names every copy before it is made, so
``class down`` clears a class even after a crash.
"""
