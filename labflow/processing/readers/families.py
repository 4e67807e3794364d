"""The built-in readers, most specific first; the generic delimited reader comes last (the fallback)."""

from __future__ import annotations

from labflow.processing.readers.autolab import AutolabReader
from labflow.processing.readers.biologic import BiologicReader
from labflow.processing.readers.chi import ChiReader
from labflow.processing.readers.cyclers import MaccorReader, PecReader
from labflow.processing.readers.delimited import DelimitedReader
from labflow.processing.readers.ezchrom import EzchromReader
from labflow.processing.readers.gamry import GamryReader
from labflow.processing.readers.ill import IllReader
from labflow.processing.readers.jcamp import JcampReader
from labflow.processing.readers.ortec import OrtecReader
from labflow.processing.readers.raman import RamanReader
from labflow.processing.readers.shimadzu import ShimadzuReader
from labflow.processing.readers.specs import SpecsReader
from labflow.processing.readers.touchstone import TouchstoneReader
from labflow.processing.readers.uxd import UxdReader
from labflow.processing.readers.vamas import VamasReader
from labflow.processing.readers.zilien import ZilienReader
from labflow.processing.readers.versastudio import VersaStudioReader
from labflow.processing.readers.zplot import ZplotReader

BUILTIN: list[type] = [JcampReader, OrtecReader, TouchstoneReader, RamanReader, UxdReader, IllReader, VamasReader, SpecsReader, ShimadzuReader, EzchromReader, MaccorReader, PecReader, ZilienReader, BiologicReader, GamryReader, ChiReader, AutolabReader, VersaStudioReader, ZplotReader,
                      DelimitedReader]
