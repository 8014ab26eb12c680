"""``ovlab serve``: a lab in the browser, and ``walk --html``: a walkthrough as a static page.

Records flow one way: collectors (toolkit.graph.model, toolkit.netns, toolkit.doctor,
toolkit.exercise.session, toolkit.watch.lab) → ``collect`` and ``live`` here → the JSON
API (``api``) and the page (``page``, ``static/``), which never touch the kernel.
"""
