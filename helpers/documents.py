"""The source documents themselves, where a run has them, and finding a quote in one.

The documents are not part of the project; a run may point at a directory
holding them (``--mmapcheck-documents DIR`` or ``MMAPCHECK_DOCUMENTS``), named
as ``documents.toml`` names them.  A claim's ``quote`` is a locator: it must
occur in its document once both are normalised the same way, so that a reader
can find the sentence the claim paraphrases.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from helpers.catalogue import Catalogue

#: Environment variable naming the directory of the documents (the option wins).
ENVIRONMENT = "MMAPCHECK_DOCUMENTS"

#: The longest quote a claim may carry: a locator, never more than a phrase.
QUOTE_LENGTH = 60

_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Return ``text`` under Unicode NFKC with every whitespace character removed.

    NFKC folds full-width punctuation and digits into their plain forms, and
    dropping whitespace makes a quote immune to line breaks and indentation
    of the document; the characters themselves must still be the document's.
    """
    return _SPACE.sub("", unicodedata.normalize("NFKC", text))


def occurrences(quote: str, text: str) -> int:
    """Return how many times ``quote`` occurs in ``text``, both normalised."""
    needle = normalise(quote)
    return normalise(text).count(needle) if needle else 0


@dataclass(frozen=True)
class Documents:
    """A directory that holds the source documents under their file names."""

    directory: Path

    def text(self, catalogue: Catalogue, key: str) -> str:
        """Return the text of document ``key``; raise FileNotFoundError naming the file."""
        document = catalogue.documents[key]
        path = self.directory / document.file
        if not path.is_file():
            raise FileNotFoundError(f"document {key!r} ({document.file}) is not in "
                                    f"{self.directory}")
        return path.read_text(encoding="utf-8")


def locate(option: str | None) -> tuple[Documents | None, str]:
    """Return the documents named by ``option`` or the environment, or None and why not.

    The option wins over :data:`ENVIRONMENT`.  A directory that is named but
    does not exist is an error (a typo must not turn into a silent skip).
    """
    value = option or os.environ.get(ENVIRONMENT, "")
    if not value:
        return None, (f"the source documents are not at hand: pass --mmapcheck-documents DIR "
                      f"or set {ENVIRONMENT}")
    directory = Path(value).expanduser()
    if not directory.is_dir():
        source = "--mmapcheck-documents" if option else ENVIRONMENT
        raise NotADirectoryError(f"{source}={value!r} is not a directory of the source "
                                 "documents")
    return Documents(directory.resolve()), ""
