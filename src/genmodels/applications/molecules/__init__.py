"""Drug discovery: molecule data, generation with the sequence models, properties and the MOSES metrics.

Needs the ``molecules`` extra (RDKit, SELFIES, fcd-torch); importing this package without it raises
a :class:`~genmodels.errors.MissingExtraError` that says what to install.
"""

from genmodels.extras import require_extra

require_extra("molecules", "genmodels.applications.molecules")
