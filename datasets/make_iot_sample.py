#!/usr/bin/env python3
"""Generate ``iot_sample.csv``: synthetic telemetry from a small IoT fleet.

The channels are tied together by physics and by per-type operating regimes,
and the injected anomalies are chosen so that some of them only show up in the
joint distribution.  A per-column detector should find the easy ones (spikes)
and miss the rest, which is what makes the sample useful for judging a model
of the joint distribution.  See ``iot_sample.md`` for the column reference.

Only numpy and pandas are used, and all randomness flows from one
``numpy.random.default_rng(seed)`` so that a seed pins the file byte for byte.

    python datasets/make_iot_sample.py --seed 0 --rows 4000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

N_DEVICES = 40
# Fleet mix.  Counts per type do not depend on the seed, so datasets made
# with different seeds stay comparable; only which id gets which type does.
TYPE_SHARES = {"thermostat": 0.30, "smart_plug": 0.30, "camera": 0.25, "gateway": 0.15}

# Operating regime per device type.  Cameras hang outdoors (cold, humid,
# wide daily swing), gateways sit in warm closets.  ``pkt_size`` is the mean
# bytes per packet; exfiltration and type-mimicry anomalies are defined
# relative to it, so it has to differ clearly between types.
REGIMES = {
    "thermostat": dict(
        temp=(19.0, 23.0), temp_amp=1.2, hum_ref=45.0, hum_slope=2.5,
        current=(0.055, 0.006), pf=0.55, pkt_rate=12, pkt_size=140, cpu=(4.0, 1.0),
        rssi=(-62, 6),
    ),
    "smart_plug": dict(
        temp=(20.0, 25.0), temp_amp=1.5, hum_ref=45.0, hum_slope=2.5,
        current=None, pf=0.95, pkt_rate=20, pkt_size=110, cpu=(3.0, 0.8),
        rssi=(-58, 7),
    ),
    "camera": dict(
        temp=(8.0, 14.0), temp_amp=5.0, hum_ref=72.0, hum_slope=2.2,
        current=(0.085, 0.008), pf=0.65, pkt_rate=1800, pkt_size=1150, cpu=(38.0, 5.0),
        rssi=(-66, 6),
    ),
    "gateway": dict(
        temp=(26.0, 31.0), temp_amp=0.8, hum_ref=34.0, hum_slope=2.0,
        current=(0.070, 0.007), pf=0.75, pkt_rate=900, pkt_size=560, cpu=(14.0, 3.0),
        rssi=(-45, 4),
    ),
}

ANOMALY_KINDS = ("spike", "broken_physics", "exfiltration", "sensor_drift", "type_mimicry")
ANOMALY_RATE = 0.04
START = pd.Timestamp("2024-03-04T00:00:00")

COLUMNS = [
    "timestamp", "device_id", "device_type", "temperature_c", "humidity_pct",
    "voltage_v", "current_a", "power_w", "cpu_pct", "packets_out", "bytes_out",
    "rssi_dbm", "uptime_h", "label", "anomaly_type",
]


def make_fleet(rng: np.random.Generator) -> pd.DataFrame:
    counts = {t: int(round(share * N_DEVICES)) for t, share in TYPE_SHARES.items()}
    counts["smart_plug"] += N_DEVICES - sum(counts.values())
    types = np.concatenate([[t] * n for t, n in counts.items()])
    # Shuffle so that device ids carry no information about the type.
    types = rng.permutation(types)
    fleet = pd.DataFrame({
        "device_id": [f"dev-{i:02d}" for i in range(1, N_DEVICES + 1)],
        "device_type": types,
    })
    # Per-device constants: where it hangs (base temperature, radio link),
    # its own power supply (power factor, packet size) and how long it has
    # been up.  These make devices of one type similar but not identical.
    fleet["temp_base"] = [rng.uniform(*REGIMES[t]["temp"]) for t in types]
    fleet["pf"] = [REGIMES[t]["pf"] + rng.normal(0, 0.015) for t in types]
    fleet["pkt_size"] = [REGIMES[t]["pkt_size"] * rng.uniform(0.93, 1.07) for t in types]
    fleet["rssi_base"] = [rng.normal(*REGIMES[t]["rssi"]) for t in types]
    fleet["uptime0"] = rng.uniform(1.0, 2000.0, N_DEVICES)
    return fleet


def make_schedule(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    # Every device reports once per round, in a fresh random order, so that
    # the table interleaves devices the way a collector would see them.
    n_rounds = -(-rows // N_DEVICES)
    order = np.concatenate([rng.permutation(N_DEVICES) for _ in range(n_rounds)])[:rows]
    # Strictly positive integer gaps keep timestamps unique and increasing at
    # one-second resolution; ~90 s per row spreads 4000 rows over ~4 days,
    # enough for several diurnal cycles.
    gaps = rng.integers(60, 121, rows)
    seconds = np.cumsum(gaps) - gaps[0]
    return pd.DataFrame({"dev": order, "t_s": seconds})


def traffic(rng: np.random.Generator, dtype: str, pkt_size: np.ndarray, n: int):
    """Packets, bytes and CPU load in the regime of ``dtype``."""
    reg = REGIMES[dtype]
    if reg["pkt_rate"] < 100:
        packets = rng.poisson(reg["pkt_rate"], n) + 1
    else:
        # Cameras stream at a near-constant bitrate; gateways relay whatever
        # the fleet sends and vary more.
        sigma = 0.05 if dtype == "camera" else 0.12
        packets = np.round(reg["pkt_rate"] * rng.lognormal(0.0, sigma, n)).astype(int)
    bytes_out = np.round(packets * pkt_size * rng.normal(1.0, 0.03, n)).astype(int)
    cpu_mean, cpu_sd = reg["cpu"]
    # CPU follows traffic relative to the type's usual rate: more to send,
    # more to encode/route.
    load = packets / reg["pkt_rate"] - 1.0
    cpu = cpu_mean + cpu_mean * 0.5 * load + rng.normal(0, cpu_sd, n)
    return packets, bytes_out, np.clip(cpu, 0.5, 100.0)


def plug_current(rng: np.random.Generator, n: int) -> np.ndarray:
    # A smart plug's draw is whatever is plugged in: mostly standby or a
    # small load, sometimes a kettle or heater.
    state = rng.choice(3, n, p=[0.45, 0.40, 0.15])
    return np.select(
        [state == 0, state == 1],
        [rng.uniform(0.02, 0.06, n), rng.uniform(0.3, 1.5, n)],
        rng.uniform(4.0, 9.0, n),
    )


def simulate_normal(rng: np.random.Generator, fleet: pd.DataFrame, sched: pd.DataFrame) -> pd.DataFrame:
    n = len(sched)
    dev = sched["dev"].to_numpy()
    t_s = sched["t_s"].to_numpy()
    hours = t_s / 3600.0
    df = pd.DataFrame({
        "timestamp": (START + pd.to_timedelta(t_s, unit="s")).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "device_id": fleet["device_id"].to_numpy()[dev],
        "device_type": fleet["device_type"].to_numpy()[dev],
    })
    dtype = df["device_type"].to_numpy()

    # Grid voltage is shared by the whole fleet (evening sag), plus a little
    # per-reading measurement noise.
    hour_of_day = hours % 24
    grid = 230.0 - 2.5 * np.exp(-((hour_of_day - 19.0) ** 2) / 8.0)
    voltage = grid + rng.normal(0, 1.2, n)

    temp = np.empty(n)
    hum = np.empty(n)
    current = np.empty(n)
    packets = np.empty(n, dtype=np.int64)
    bytes_out = np.empty(n, dtype=np.int64)
    cpu = np.empty(n)
    # Warmest mid-afternoon; outdoor cameras swing most.
    diurnal = np.sin(2 * np.pi * (hour_of_day - 9.0) / 24.0)
    for t, reg in REGIMES.items():
        m = dtype == t
        k = int(m.sum())
        temp[m] = fleet["temp_base"].to_numpy()[dev[m]] + reg["temp_amp"] * diurnal[m] + rng.normal(0, 0.4, k)
        # Relative humidity falls as the same air warms up: a linear
        # anti-correlation around each type's reference point.
        t_ref = np.mean(reg["temp"])
        hum[m] = reg["hum_ref"] - reg["hum_slope"] * (temp[m] - t_ref) + rng.normal(0, 1.5, k)
        if reg["current"] is None:
            current[m] = plug_current(rng, k)
        else:
            current[m] = rng.normal(*reg["current"], k)
        packets[m], bytes_out[m], cpu[m] = traffic(rng, t, fleet["pkt_size"].to_numpy()[dev[m]], k)

    pf = fleet["pf"].to_numpy()[dev]
    # Metering error of about 1 %, so power tracks V*I*pf closely but not
    # exactly; broken-physics anomalies are far outside this band.
    power = voltage * current * pf * rng.normal(1.0, 0.01, n)
    rssi = fleet["rssi_base"].to_numpy()[dev] + rng.normal(0, 2.0, n)

    # Uptime grows with wall time and resets at a reboot; about a third of
    # the devices reboot once during the window.
    uptime = fleet["uptime0"].to_numpy()[dev] + hours
    span = hours.max() if n else 0.0
    reboot_at = np.where(rng.random(N_DEVICES) < 0.35, rng.uniform(0, span, N_DEVICES), np.inf)
    after = hours >= reboot_at[dev]
    uptime[after] = hours[after] - reboot_at[dev][after]

    df["temperature_c"] = temp
    df["humidity_pct"] = np.clip(hum, 5.0, 99.0)
    df["voltage_v"] = voltage
    df["current_a"] = current
    df["power_w"] = power
    df["cpu_pct"] = cpu
    df["packets_out"] = packets
    df["bytes_out"] = bytes_out
    df["rssi_dbm"] = rssi
    df["uptime_h"] = uptime
    df["label"] = 0
    df["anomaly_type"] = "none"
    return df


def pick(rng: np.random.Generator, free: np.ndarray, k: int) -> np.ndarray:
    idx = np.flatnonzero(free)
    chosen = np.sort(rng.choice(idx, size=min(k, idx.size), replace=False))
    free[chosen] = False
    return chosen


def inject_sensor_drift(rng, df, free, k, fleet):
    # Drift is a process, so it is injected as runs of consecutive readings
    # of one device, with an offset that grows along the run.  The smallest
    # offset is already ten noise sd's from the normal humidity for that
    # temperature, so every labelled row is genuinely wrong, yet most values
    # still lie inside the range some device type reads, so a per-column view
    # sees little.
    rows = []
    dev_rows = {d: np.flatnonzero(df["device_id"].to_numpy() == d) for d in fleet["device_id"]}
    while len(rows) < k:
        d = fleet["device_id"].iloc[rng.integers(N_DEVICES)]
        seq = dev_rows[d]
        length = min(8, k - len(rows))
        if seq.size < length:
            continue
        start = rng.integers(0, seq.size - length + 1)
        run = seq[start:start + length]
        if not free[run].all():
            continue
        free[run] = False
        sign = rng.choice([-1.0, 1.0])
        offset = sign * np.linspace(15.0, rng.uniform(28.0, 36.0), length)
        hum = df.loc[run, "humidity_pct"].to_numpy() + offset
        df.loc[run, "humidity_pct"] = np.clip(hum, 8.0, 97.0)
        rows.extend(run)
    return np.array(rows)


def inject_spike(rng, df, idx):
    # A single channel jumps far outside anything the fleet produces, as
    # from a glitching ADC or a real surge; the other channels are left as
    # they were, so power no longer matches either.
    channels = np.array(["temperature_c", "voltage_v", "current_a"])[np.arange(idx.size) % 3]
    for i, ch in zip(idx, rng.permutation(channels)):
        up = rng.random() < 0.5
        if ch == "temperature_c":
            val = rng.uniform(85.0, 125.0) if up else rng.uniform(-40.0, -30.0)
        elif ch == "voltage_v":
            val = rng.uniform(300.0, 400.0) if up else rng.uniform(90.0, 150.0)
        else:
            val = rng.uniform(20.0, 40.0)
        df.loc[i, ch] = val


def inject_broken_physics(rng, df, idx):
    # Power is rescaled by a factor the metering noise could never produce,
    # but every channel on its own stays in the range some device type uses.
    factor = np.where(rng.random(idx.size) < 0.5, rng.uniform(0.35, 0.6, idx.size), rng.uniform(1.6, 2.4, idx.size))
    df.loc[idx, "power_w"] = df.loc[idx, "power_w"].to_numpy() * factor


def inject_exfiltration(rng, df, idx):
    # The packet count looks routine but packets are near MTU size, i.e. the
    # device is pushing bulk data; bytes_out alone stays below camera levels.
    size = rng.uniform(1000.0, 1450.0, idx.size)
    df.loc[idx, "bytes_out"] = np.round(df.loc[idx, "packets_out"].to_numpy() * size).astype(int)


def inject_type_mimicry(rng, df, idx, fleet):
    # The device's network behaviour (traffic and CPU) is that of another
    # type, e.g. a thermostat streaming like a camera -- consistent in
    # itself, plausible for the fleet, wrong for this device's power and
    # sensors.
    types = np.array(list(REGIMES))
    rate = np.array([REGIMES[t]["pkt_rate"] for t in types], dtype=float)
    size = np.array([REGIMES[t]["pkt_size"] for t in types], dtype=float)
    own = df.loc[idx, "device_type"].to_numpy()
    for i, t in zip(idx, own):
        # Only types whose traffic differs at least twofold in rate or packet
        # size: a thermostat passing as a smart plug is not an anomaly anyone
        # could or should catch.
        j = np.flatnonzero(types == t)[0]
        differs = (np.maximum(rate / rate[j], rate[j] / rate) >= 2) | (np.maximum(size / size[j], size[j] / size) >= 2)
        other = rng.choice(types[differs])
        pkt_size = np.array([REGIMES[other]["pkt_size"] * rng.uniform(0.93, 1.07)])
        p, b, c = traffic(rng, other, pkt_size, 1)
        df.loc[i, ["packets_out", "bytes_out", "cpu_pct"]] = [int(p[0]), int(b[0]), float(c[0])]


def add_missing(rng, df, column, frac, protect=None):
    # Dropouts of a sensor; kept off the cells that carry an injected
    # anomaly so that no labelled anomaly is erased by a NaN.
    ok = np.ones(len(df), dtype=bool) if protect is None else ~protect
    k = int(round(frac * len(df)))
    cells = rng.choice(np.flatnonzero(ok), size=k, replace=False)
    df.loc[np.sort(cells), column] = np.nan


def generate(seed: int, rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    fleet = make_fleet(rng)
    df = simulate_normal(rng, fleet, make_schedule(rng, rows))

    per_kind = max(1, int(round(rows * ANOMALY_RATE / len(ANOMALY_KINDS))))
    free = np.ones(len(df), dtype=bool)
    chosen = {}
    # Runs need contiguous free readings, so they are placed first.
    chosen["sensor_drift"] = inject_sensor_drift(rng, df, free, per_kind, fleet)
    chosen["spike"] = pick(rng, free, per_kind)
    inject_spike(rng, df, chosen["spike"])
    chosen["broken_physics"] = pick(rng, free, per_kind)
    inject_broken_physics(rng, df, chosen["broken_physics"])
    # Cameras already send near-MTU packets, so large packets are not an
    # anomaly for them.
    not_camera = free & (df["device_type"].to_numpy() != "camera")
    chosen["exfiltration"] = pick(rng, not_camera, per_kind)
    free[chosen["exfiltration"]] = False
    inject_exfiltration(rng, df, chosen["exfiltration"])
    chosen["type_mimicry"] = pick(rng, free, per_kind)
    inject_type_mimicry(rng, df, chosen["type_mimicry"], fleet)
    for kind in ANOMALY_KINDS:
        df.loc[chosen[kind], "label"] = 1
        df.loc[chosen[kind], "anomaly_type"] = kind

    hum_protect = np.zeros(len(df), dtype=bool)
    hum_protect[chosen["sensor_drift"]] = True
    add_missing(rng, df, "humidity_pct", 0.005, hum_protect)
    add_missing(rng, df, "rssi_dbm", 0.005)

    # Sensible instrument resolution; rounding last keeps the physics
    # relations computed at full precision.
    decimals = {"temperature_c": 1, "humidity_pct": 1, "voltage_v": 1, "current_a": 3,
                "power_w": 2, "cpu_pct": 1, "rssi_dbm": 0, "uptime_h": 2}
    for col, d in decimals.items():
        df[col] = df[col].round(d)
    # rssi is an integer reading but has NaNs, so use the nullable Int64 to
    # print "-61" rather than "-61.0".
    df["rssi_dbm"] = df["rssi_dbm"].astype("Int64")
    df["packets_out"] = df["packets_out"].astype("int64")
    df["bytes_out"] = df["bytes_out"].astype("int64")
    return df[COLUMNS]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0, help="rng seed (default 0)")
    ap.add_argument("--rows", type=int, default=4000, help="number of readings (default 4000)")
    ap.add_argument("-o", "--output", type=Path, default=Path(__file__).resolve().with_name("iot_sample.csv"),
                    help="CSV to write (default: iot_sample.csv beside this script)")
    args = ap.parse_args(argv)
    if args.rows < N_DEVICES:
        ap.error(f"--rows must be at least {N_DEVICES} (one reading per device)")
    df = generate(args.seed, args.rows)
    # Values are already rounded, so pandas' shortest round-trip float repr
    # is stable; pin the line ending so the bytes do not depend on the
    # platform.
    df.to_csv(args.output, index=False, lineterminator="\n")
    counts = df["anomaly_type"].value_counts()
    print(f"wrote {args.output}: {len(df)} rows x {df.shape[1]} columns")
    for kind in ANOMALY_KINDS:
        print(f"  {kind:<15} {counts.get(kind, 0)}")


if __name__ == "__main__":
    main()
