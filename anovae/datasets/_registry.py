"""Every file the loaders read: where it lies, where it comes from, its pinned SHA-256.

The layout is the data folder's (``<data_home>/<folder>/<file>``) and is also the
layout a mirror serves (``ANOVAE_DATA_URL``): a folder filled by ``anovae datasets
fetch`` and one copied by hand are interchangeable. The SHA-256 of each file is that
of the published copy (the shared data folder's READMEs give each file's provenance).

Where the public source publishes the file in another form, ``convert`` says how it
becomes the file: ``"gzip"`` (NSL-KDD's text files are kept gzip-compressed),
``"lf"`` (NSL-KDD's ``Attack Types.csv`` has CR line endings) or ``"frey-npz"``
(Frey Face's ``.mat`` file as an ``.npz`` array that needs no SciPy). Compression and
zip archives do not reproduce byte for byte across library versions, so such a file
is checked by its content (``content_sha256``): the SHA-256 of the uncompressed text,
or of the pixel array.

No import here beyond the standard library: the command line reads the names.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset.

    Attributes
    ----------
    path : str
        Where it lies under the data folder, with ``/`` separators; also its path under
        a mirror's base URL.
    sha256 : str
        SHA-256 of the file as published in that layout.
    url : str
        Where its public source is downloaded from.
    url_sha256 : str or None
        SHA-256 of what ``url`` serves, when it is not the file itself; None for a
        source that is checked only once converted (its converted bytes are pinned).
    convert : str or None
        How the source becomes the file (see the module's docstring); None: as is.
    source_path : str or None
        Where that source may already lie in the data folder (NSL-KDD's plain
        ``.txt``, Frey Face's ``.mat``): used instead of downloading it again.
    content_sha256 : str or None
        For a converted file whose bytes vary with the compressor, the SHA-256 of its
        content that every correct copy has.
    """

    path: str
    sha256: str
    url: str
    url_sha256: str | None = None
    convert: str | None = None
    source_path: str | None = None
    content_sha256: str | None = None


# Pinned to commits, so that a URL always serves the bytes its checksum names.
_ADBENCH = (
    "https://raw.githubusercontent.com/Minqi824/ADBench/"
    "3dac8221081e190f157d78e93bfa8867f90d0965/adbench/datasets/Classical/"
)
_NSL_KDD = "https://raw.githubusercontent.com/defcom17/NSL_KDD/27bbbdf5c5cccf9970b8b6037a0f19dc09c5a0a9/"
# The mirror torchvision downloads from; its files have the official MD5s.
_MNIST = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_FREY = (
    "https://raw.githubusercontent.com/vilhess/projet_meth_ia/"
    "417f18d3bba5d716291a891c22e8f57da426a819/dataset/frey_rawface.mat"
)


def _adbench(folder, file, sha256):
    return DataFile(f"{folder}/{file}", sha256, _ADBENCH + file)


def _nsl_text(stem, gz_sha256, text_sha256):
    quoted = stem.replace("+", "%2B")
    return DataFile(
        f"nsl-kdd/{stem}.txt.gz",
        gz_sha256,
        f"{_NSL_KDD}{quoted}.txt",
        url_sha256=text_sha256,
        convert="gzip",
        source_path=f"nsl-kdd/{stem}.txt",
        content_sha256=text_sha256,
    )


# ODDS name -> (file, sha256); odds-dev/README.md
ODDS_FILES = {
    "cardio": ("6_cardio.npz", "bc5009bde6930b4d298b594f31b34485a9a17210cff0e8fb00a8c3068b885a2d"),
    "pageblocks": ("27_PageBlocks.npz", "10a9b4d5bb5d3b9083caab4c4062f665610eada703c3d927bf7c34b1f2d0d223"),
    "pendigits": ("28_pendigits.npz", "c4936b89dcdad59d303020e492f763a0f54170080d787c77497609acbb9c2d79"),
    "satellite": ("30_satellite.npz", "1f048f5686f1b8c16a227fdfa3c81a62cd9a92715714a6b24c69b1c5ad96b46e"),
    "thyroid": ("38_thyroid.npz", "8de161b3f235b7647bb0b39a836d983ff61d67bf234edac461da2d71e889cb87"),
    "fault": ("12_fault.npz", "ec27301f9a4cf7c5d8b22c360cf37ddb043b7fb062465723dfd8b34e2771e5dd"),
    "hepatitis": ("15_Hepatitis.npz", "4a87a2f7d8013e5bfde63294fae61ec7a612322de72f338a7f9491749025ad98"),
    "internetads": ("17_InternetAds.npz", "bdd8ad5cf5bf2cb96cba53dde30d522d0f6a279083a8e2bc7efbac5981b04385"),
    "magic.gamma": ("22_magic.gamma.npz", "0be375984d7af9ea7a63b12206c240840d8b7daa3607021c5fb8756407dd86f1"),
    "spambase": ("35_SpamBase.npz", "d0c46c7928e43f6496bcd06e09de0b70f6bc8143792dfa0a43f450263d254e9b"),
    "stamps": ("37_Stamps.npz", "99fe739447284f613fa54bf2dccdb51c5120175ce6260adec6dad77576c42509"),
    "waveform": ("41_Waveform.npz", "6c9d867337ad1a2f8372c1d27f4c032f0401237e2041b7c45f00de8d319ff30f"),
    "wdbc": ("43_WDBC.npz", "78d4606a1ab516f5b60b00c196497f3bbd6bd5e4548fd04cf5f2475209b34b85"),
    "wpbc": ("46_WPBC.npz", "68a6d67242643855713bcdad07d89ecc472bd00000dccc17ba87916eb2693d19"),
    "yeast": ("47_yeast.npz", "bbb15c873d78a4f6a589f46d0f75814595e2282d2ae7ce7779c750f276c3770d"),
}
ODDS_NAMES = tuple(ODDS_FILES)
DONORS_FILE = ("11_donors.npz", "5824ec854465f2763b4bfe3da1ae9f25ed5433b5c6e265d42e37da4f82a58679")

#: Fetchable name -> the files it downloads (``anovae datasets fetch NAME``).
DATASETS = {
    "nsl-kdd": (
        _nsl_text(
            "KDDTrain+",
            "39e78eaceffb1a183af002b4994b100b69795895bfbf67cfc62dabd4c9b76d4e",
            "1b86d2f957b33082081bba410fe129b475efebcc13c9014c3f447c8271aadf95",
        ),
        _nsl_text(
            "KDDTrain+_20Percent",
            "fc113da7acc7e3006f0c3bf00c9ba5c052be44b00af3b1951beff90694bf66ff",
            "7ea86479faab5ca2190b7f18b4982fb058ce5bf2b46e0e1017d0d9ef90f9c16e",
        ),
        _nsl_text(
            "KDDTest+",
            "1ebe1079af669e3c35ef7be25b5bafde1e47951244d1b4834682b14a22238da1",
            "fa46b0935342616aa83b7c2578db355b6a7aaabbc492248172c7a1e8b7ab8f84",
        ),
        _nsl_text(
            "KDDTest-21",
            "cf79d2eab7d8cc749e7c088260c0297cbb26d95062d27d1f8c761f4eeac3327a",
            "746993ac9e25868827cacf09eab450050a2a1056e1ce48a1ad39f5dc801d531d",
        ),
        DataFile(
            "nsl-kdd/field_names.csv",
            "e6ce1b1f35966a203209433fd98f88eeb6f5d37f7fb3194aa20d9935b8f9e9d3",
            _NSL_KDD + "Field%20Names.csv",
        ),
        DataFile(
            "nsl-kdd/attack_types.csv",
            "7dc886483698f6c86e3276e8720d4ff486e3226bd9ff36a96827a9b8975c0183",
            _NSL_KDD + "Attack%20Types.csv",
            convert="lf",
        ),
    ),
    **{
        f"odds:{name}": (_adbench("odds-dev", file, sha256),)
        for name, (file, sha256) in ODDS_FILES.items()
    },
    "donors": (_adbench("adbench-large", *DONORS_FILE),),
    "mnist": tuple(
        DataFile(f"mnist/{file}", sha256, _MNIST + file)
        for file, sha256 in (
            ("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
            ("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
            ("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
            ("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        )
    ),
    "frey-face": (
        DataFile(
            "frey-face/frey_rawface.mat",
            "265a83a23adb081755cd3de375509828e690324d1d60f076b8ecebc840d59c64",
            _FREY,
        ),
        DataFile(
            "frey-face/frey_rawface.npz",
            "7d46496ce4b919a8831ba4fa1a5d6b595b7d624c022e11fdf30468fae3ada250",
            _FREY,
            url_sha256="265a83a23adb081755cd3de375509828e690324d1d60f076b8ecebc840d59c64",
            convert="frey-npz",
            source_path="frey-face/frey_rawface.mat",
            # of the uint8 array X, shape (1965, 560), C order
            content_sha256="2438ba4f0d2a6bd8bac43de756141eaa33c8d248dd613d464bdb1210d9b7af78",
        ),
    ),
}

#: Names that stand for several datasets.
GROUPS = {
    "odds": tuple(f"odds:{name}" for name in ODDS_FILES),
    "all": ("nsl-kdd", *(f"odds:{name}" for name in ODDS_FILES), "donors", "mnist", "frey-face"),
}


def expand(name):
    """The dataset names a fetchable name stands for, or None if it is unknown."""
    if name in DATASETS:
        return (name,)
    return GROUPS.get(name)
