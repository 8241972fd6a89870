"""Static files for production: hashed names, compressed, and ES module imports rewritten.

The cluster page's entry module imports graph.js, editor.js, ...: without the rewriting those
imports would fetch the unhashed files, which cannot be cached for long."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
