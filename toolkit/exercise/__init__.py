"""Break-it exercises: a lab with faults injected, hints, and a grade from verify and the doctor."""
