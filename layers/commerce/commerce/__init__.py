"""The commerce layer: the code every function of the template shares.

One line of process setup lives here because it must run before botocore is first imported,
and every handler imports this package before anything that loads botocore:

botocore imports ``urllib3.contrib.pyopenssl`` only to make sure it uses the standard library's
``SSLContext`` even where an old urllib3 was patched to use pyOpenSSL. The layer ships pyOpenSSL
(the Alipay SDK needs it), so that import loads pyOpenSSL and ``cryptography.x509`` into every
function at cold start, about 40 ms, to learn what urllib3 2 (the pinned version) never changes.
Marking the module as absent makes botocore take its own fallback, the standard library's
context, and keeps anything from injecting pyOpenSSL into urllib3. The Alipay SDK imports
``OpenSSL`` itself, which this does not touch.
"""

import sys

sys.modules.setdefault("urllib3.contrib.pyopenssl", None)  # type: ignore[arg-type]
