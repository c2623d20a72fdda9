"""Transport of a heavy charged particle (mu, pi, p) through liquid argon.

One numba kernel steps the particle in straight segments of ``step_mm`` (default 1 mm), shorter
near the end of the range, until it stops or leaves the world box. Per step:

- **Mean loss** from the CSDA range table (``T(R - s)``), so the mean range is right by
  construction for any step length.
- **Delta rays** above ``delta_cut_mev`` are produced explicitly: their number is Poisson with
  mean ``xi (1/Tcut - 1/Wmax)`` (the 1/T^2 spectrum, ``xi = K/2 z^2 (Z/A) rho s / beta^2``), the
  energy follows 1/T^2 times the spin-0 factor ``1 - beta^2 T/Wmax`` (by rejection), and the
  emission angle is the two-body one, ``cos(theta) = T_e (E + m_e) / (p_e P)``. Their energy and
  momentum are removed from the track; they are returned as electron secondaries.
- **Restricted (continuous) loss** = mean loss minus the mean delta-ray energy above the cut, with
  fluctuations: a Moyal variate (``-ln(chi2_1)``, Landau-like with a finite tail, shifted so that
  its mean is the restricted mean) while ``kappa = xi/T_up < 2/pi^2``; above that a Gaussian of
  Bohr width ``sqrt(xi T_up (1 - beta^2/2))`` (the two widths agree at the switch point).
- **Multiple scattering** with the Highland width of docs/simulation.md §8, applied per step in two
  orthogonal planes with the PDG correlated (angle, lateral displacement) pair. Because the
  Highland log term is not additive over steps, the variance added by a step is the increment
  of ``theta0^2`` between the path lengths travelled before and after the step (evaluated with
  the current momentum), so the rms angle after any path length from the start matches Highland
  for a constant momentum.

The particle stops when its residual range falls below ``FINAL_RANGE_MM`` (the remaining energy
is deposited along that last bit of range), leaves the world box, or (``interact_mm``) meets a
nucleus (``hadronic``). Optionally (the default preset) knock-on electrons between ``knock_lo_mev``
and the delta cut are made with the same spectrum and deposited along their short path
(``em.short_electron_walk``) as part of the track.

**Deposits follow the path through the voxel grid.** A step's energy is not put at one point: the
straight step segment is cut at the 3 mm voxel planes (``VOXEL_MM``, world coordinates; the active
volume starts at 0 mm, so the planes are the multiples of 3 mm) and every piece gets the share of
the step's energy proportional to its length, deposited at the piece's midpoint. A voxel that the
track only clips at a corner then receives a small energy, as Geant4 steps voxelized along their
path do, instead of all or nothing (see :func:`deposit_along_segment`, also used by ``em``).

Units: mm, MeV. Directions are unit vectors.
"""

import math

import numpy as np
from numba import njit

from michelreco.sim.constants import (
    K_MEV_CM2_MOL, LAR_DENSITY_G_CM3, LAR_X0_MM, LAR_Z_OVER_A, M_E, PDG_E,
)
from michelreco.sim.em import short_electron_walk
from michelreco.sim.record import Process
from michelreco.sim.segments import deposit_along_segment
from michelreco.sim.stopping import csda_range_mm, kinetic_energy_from_range, wmax_mev

__all__ = ["FINAL_RANGE_MM", "DR_OVER_RANGE", "deposit_along_segment", "transport_charged",
           "transport_charged_stats"]

FINAL_RANGE_MM = 0.1      # last step: the particle is stopped with its residual range (Geant4-like)
DR_OVER_RANGE = 0.2       # near the end a step is at most this fraction of the residual range
_XI_MEV_MM = 0.5 * K_MEV_CM2_MOL * LAR_Z_OVER_A * LAR_DENSITY_G_CM3 / 10.0  # xi per mm at beta = 1
_MOYAL_MEAN = 0.5772156649015329 + math.log(2.0)  # mean of -ln(chi2_1): Euler gamma + ln 2
_KAPPA_GAUSS = 2.0 / math.pi ** 2  # Moyal sd (pi/sqrt2 xi) equals Bohr sd (xi/sqrt(kappa)) here
_HIGHLAND_MEV = 13.6
_PROC_IONI = float(Process.IONI)
_PDG_ELECTRON = float(PDG_E)


@njit(cache=True, nogil=True)
def _highland_g(path_mm, z2, beta2):
    """(x/X0) (1 + 0.038 ln(x z^2 / (X0 beta^2)))^2: Highland theta0^2 without the momentum factor."""
    if path_mm <= 0.0:
        return 0.0
    t = path_mm / LAR_X0_MM
    f = 1.0 + 0.038 * math.log(t * z2 / beta2)
    return t * f * f


@njit(cache=True, nogil=True)
def _perp_basis(ux, uy, uz):
    """Two unit vectors orthogonal to (ux, uy, uz) and to each other."""
    if abs(uz) < 0.9:
        ax, ay, az = 0.0, 0.0, 1.0
    else:
        ax, ay, az = 1.0, 0.0, 0.0
    # e1 = normalize(u x a)
    e1x = uy * az - uz * ay
    e1y = uz * ax - ux * az
    e1z = ux * ay - uy * ax
    n = math.sqrt(e1x * e1x + e1y * e1y + e1z * e1z)
    e1x /= n
    e1y /= n
    e1z /= n
    # e2 = u x e1
    e2x = uy * e1z - uz * e1y
    e2y = uz * e1x - ux * e1z
    e2z = ux * e1y - uy * e1x
    return e1x, e1y, e1z, e2x, e2y, e2z


@njit(cache=True, nogil=True)
def _inside(x, y, z, lo, hi):
    """Is (x, y, z) inside the box [lo, hi) (mm)?"""
    return lo[0] <= x < hi[0] and lo[1] <= y < hi[1] and lo[2] <= z < hi[2]


@njit(cache=True, nogil=True)
def _grow(a, n_needed):
    """Return ``a`` or a copy with at least ``n_needed`` rows (capacity doubling)."""
    if n_needed <= a.shape[0]:
        return a
    b = np.empty((max(2 * a.shape[0], n_needed), a.shape[1]))
    b[:a.shape[0]] = a
    return b


@njit(cache=True, nogil=True)
def _core(mass, charge, pos, direction, t_start, world_lo, world_hi, step_mm, delta_cut_mev,
          knock_lo_mev, spread_mm, merge, interact_mm):
    z2 = charge * charge
    x, y, z = pos[0], pos[1], pos[2]
    nrm = math.sqrt(direction[0] ** 2 + direction[1] ** 2 + direction[2] ** 2)
    ux, uy, uz = direction[0] / nrm, direction[1] / nrm, direction[2] / nrm
    t = t_start
    r_now = csda_range_mm(t, mass, charge)
    # a 1 mm step crosses about half a voxel plane on average: room for ~2 pieces per step
    cap = 2 * int(min(r_now, 8000.0) / step_mm) + 64
    dep = np.empty((cap, 4))
    nd = 0
    sec = np.empty((8, 9))
    ns = 0
    path = 0.0
    nsteps = 0
    stopped = False
    inside_world = _inside(x, y, z, world_lo, world_hi)
    while inside_world:
        nsteps += 1
        # --- step length: fixed, then a fraction of the residual range, then the final bit
        s = step_mm
        if DR_OVER_RANGE * r_now < s:
            s = max(DR_OVER_RANGE * r_now, FINAL_RANGE_MM)
        # a nuclear interaction ends the track at path length interact_mm (if it does not stop first)
        interact = False
        if path + s >= interact_mm and interact_mm - path < r_now:
            s = max(interact_mm - path, 1e-6)
            interact = True
        if s >= r_now:
            # last step: all remaining energy along the residual range
            if t > 0.0:
                dep, nd = deposit_along_segment(dep, nd, x, y, z, x + r_now * ux, y + r_now * uy,
                                                z + r_now * uz, t, -1.0, world_lo, world_hi,
                                                spread_mm, merge)
            x += r_now * ux
            y += r_now * uy
            z += r_now * uz
            path += r_now
            t = 0.0
            stopped = True
            break
        t_mean_end = kinetic_energy_from_range(r_now - s, mass, charge)
        de_mean = t - t_mean_end
        # kinematics at mid-step
        tm = t - 0.5 * de_mean
        gam = 1.0 + tm / mass
        beta2 = 1.0 - 1.0 / (gam * gam)
        e_tot = gam * mass
        p_mom = math.sqrt(max(e_tot * e_tot - mass * mass, 0.0))
        wmax = wmax_mev(tm, mass)
        xi = _XI_MEV_MM * z2 * s / beta2
        # --- delta rays above the cut: remove their mean from the continuous loss
        if wmax > delta_cut_mev:
            tup = delta_cut_mev
            e_delta_mean = xi * (math.log(wmax / delta_cut_mev)
                                 - beta2 * (wmax - delta_cut_mev) / wmax)
            n_mean = xi * (1.0 / delta_cut_mev - 1.0 / wmax)
        else:
            tup = wmax
            e_delta_mean = 0.0
            n_mean = 0.0
        # --- knock-ons between knock_lo and the delta cut (or Wmax): the same spectrum, made
        # explicitly but deposited along a short path (no particle row); their mean is removed too
        nk_mean = 0.0
        k_hi = tup
        if knock_lo_mev > 0.0 and tup > knock_lo_mev:
            k_hi = tup
            e_delta_mean += xi * (math.log(k_hi / knock_lo_mev) - beta2 * (k_hi - knock_lo_mev) / wmax)
            nk_mean = xi * (1.0 / knock_lo_mev - 1.0 / k_hi)
            tup = knock_lo_mev
        de_cont_mean = max(de_mean - e_delta_mean, 0.0)
        # --- fluctuations of the restricted loss
        kappa = xi / tup
        if kappa < _KAPPA_GAUSS:
            g = np.random.standard_normal()
            lam = -math.log(g * g + 1e-300)
            de = de_cont_mean + xi * (lam - _MOYAL_MEAN)
        else:
            sig = math.sqrt(xi * tup * (1.0 - 0.5 * beta2))
            de = de_cont_mean + sig * np.random.standard_normal()
        if de < 0.0:
            de = 0.0
        if de > t:
            de = t
        t_after = t - de
        # --- multiple scattering (Highland, variance increment along the path)
        pb = p_mom * math.sqrt(beta2)
        th2 = (_HIGHLAND_MEV / pb) ** 2 * z2 * (_highland_g(path + s, z2, beta2)
                                                - _highland_g(path, z2, beta2))
        theta0 = math.sqrt(max(th2, 0.0))
        e1x, e1y, e1z, e2x, e2y, e2z = _perp_basis(ux, uy, uz)
        z1a = np.random.standard_normal()
        z2a = np.random.standard_normal()
        z1b = np.random.standard_normal()
        z2b = np.random.standard_normal()
        disp_a = s * theta0 * (z1a * 0.28867513459481287 + 0.5 * z2a)  # 1/sqrt(12), 1/2
        disp_b = s * theta0 * (z1b * 0.28867513459481287 + 0.5 * z2b)
        tha = theta0 * z2a
        thb = theta0 * z2b
        x0s, y0s, z0s = x, y, z
        x += s * ux + disp_a * e1x + disp_b * e2x
        y += s * uy + disp_a * e1y + disp_b * e2y
        z += s * uz + disp_a * e1z + disp_b * e2z
        # --- deposit along the step, shared among the voxels it crosses by path length
        if de > 0.0:
            dep, nd = deposit_along_segment(dep, nd, x0s, y0s, z0s, x, y, z, de, -1.0,
                                            world_lo, world_hi, spread_mm, merge)
        # --- new direction: proper 3D deflection by the space angle
        th = math.sqrt(tha * tha + thb * thb)
        if th > 0.0:
            if th > math.pi:
                th = math.pi
            ct = math.cos(th)
            st = math.sin(th)
            ca = tha / math.sqrt(tha * tha + thb * thb)
            cb = thb / math.sqrt(tha * tha + thb * thb)
            vx = ct * ux + st * (ca * e1x + cb * e2x)
            vy = ct * uy + st * (ca * e1y + cb * e2y)
            vz = ct * uz + st * (ca * e1z + cb * e2z)
            ux, uy, uz = vx, vy, vz
        # --- explicit delta rays
        if n_mean > 0.0:
            nd_rays = np.random.poisson(n_mean)
            for _ in range(nd_rays):
                u = np.random.random()
                td = delta_cut_mev * wmax / (wmax - u * (wmax - delta_cut_mev))
                if np.random.random() > 1.0 - beta2 * td / wmax:
                    continue
                if td >= t_after:
                    continue
                pd = math.sqrt(td * (td + 2.0 * M_E))
                cth = min(td * (e_tot + M_E) / (pd * p_mom), 1.0)
                sth = math.sqrt(max(1.0 - cth * cth, 0.0))
                phi = 2.0 * math.pi * np.random.random()
                c1 = sth * math.cos(phi)
                c2 = sth * math.sin(phi)
                b1x, b1y, b1z, b2x, b2y, b2z = _perp_basis(ux, uy, uz)
                wx = cth * ux + c1 * b1x + c2 * b2x
                wy = cth * uy + c1 * b1y + c2 * b2y
                wz = cth * uz + c1 * b1z + c2 * b2z
                fd = np.random.random()
                sec = _grow(sec, ns + 1)
                sec[ns, 0] = _PDG_ELECTRON
                sec[ns, 1] = _PROC_IONI
                sec[ns, 2] = x0s + fd * (x - x0s)
                sec[ns, 3] = y0s + fd * (y - y0s)
                sec[ns, 4] = z0s + fd * (z - z0s)
                sec[ns, 5], sec[ns, 6], sec[ns, 7] = wx, wy, wz
                sec[ns, 8] = td
                ns += 1
                # momentum balance: the track loses the delta's momentum vector
                t_new = t_after - td
                p_new_vec_x = p_mom * ux - pd * wx
                p_new_vec_y = p_mom * uy - pd * wy
                p_new_vec_z = p_mom * uz - pd * wz
                pn = math.sqrt(p_new_vec_x ** 2 + p_new_vec_y ** 2 + p_new_vec_z ** 2)
                ux, uy, uz = p_new_vec_x / pn, p_new_vec_y / pn, p_new_vec_z / pn
                t_after = t_new
                p_mom = math.sqrt(t_after * (t_after + 2.0 * mass))
                e_tot = t_after + mass
        # --- knock-ons below the delta cut: two-body angle, deposited by a short walk (part of this track)
        if nk_mean > 0.0:
            nk = np.random.poisson(nk_mean)
            for _ in range(nk):
                tk = knock_lo_mev * k_hi / (k_hi - np.random.random() * (k_hi - knock_lo_mev))
                if np.random.random() > 1.0 - beta2 * tk / wmax or tk >= t_after:
                    continue
                pk = math.sqrt(tk * (tk + 2.0 * M_E))
                cth = min(tk * (e_tot + M_E) / (pk * p_mom), 1.0)
                sth = math.sqrt(max(1.0 - cth * cth, 0.0))
                phi = 2.0 * math.pi * np.random.random()
                b1x, b1y, b1z, b2x, b2y, b2z = _perp_basis(ux, uy, uz)
                wx = cth * ux + sth * (math.cos(phi) * b1x + math.sin(phi) * b2x)
                wy = cth * uy + sth * (math.cos(phi) * b1y + math.sin(phi) * b2y)
                wz = cth * uz + sth * (math.cos(phi) * b1z + math.sin(phi) * b2z)
                fk = np.random.random()
                dep, nd = short_electron_walk(dep, nd, x0s + fk * (x - x0s), y0s + fk * (y - y0s),
                                              z0s + fk * (z - z0s), wx, wy, wz, tk, -1.0,
                                              world_lo, world_hi, spread_mm, merge)
                t_after -= tk
        # keep the direction normalized against round-off
        nrm = math.sqrt(ux * ux + uy * uy + uz * uz)
        ux /= nrm
        uy /= nrm
        uz /= nrm
        path += s
        t = t_after
        inside_world = _inside(x, y, z, world_lo, world_hi)
        if t <= 0.0:
            stopped = True
            break
        if interact:
            break
        r_now = csda_range_mm(t, mass, charge)
    end_pos = np.array([x, y, z])
    end_dir = np.array([ux, uy, uz])
    return dep[:nd].copy(), end_pos, end_dir, t, sec[:ns].copy(), stopped, path, nsteps


@njit(cache=True, nogil=True)
def transport_charged(mass: float, charge: float, pos: np.ndarray, direction: np.ndarray,
                      t_mev: float, world_lo: np.ndarray, world_hi: np.ndarray,
                      step_mm: float = 1.0, delta_cut_mev: float = 1.0, knock_lo_mev: float = 0.0,
                      spread_mm: float = 0.0, merge: bool = False, interact_mm: float = math.inf):
    """Track a mu, pi or p through liquid argon until it stops or leaves the world box.

    Parameters
    ----------
    mass : float
        Particle mass, MeV.
    charge : float
        Charge in units of e (sign is irrelevant here).
    pos : ndarray, shape (3,)
        Start point, mm.
    direction : ndarray, shape (3,)
        Start direction (normalized internally).
    t_mev : float
        Kinetic energy, MeV.
    world_lo, world_hi : ndarray, shape (3,)
        World box bounds, mm (active volume grown by ``WORLD_MARGIN_MM``).
    step_mm : float, optional
        Nominal step length, mm (default 1.0).
    delta_cut_mev : float, optional
        Kinetic-energy threshold for explicit delta rays, MeV (default 1.0).
    knock_lo_mev : float, optional
        Knock-on electrons between this and ``delta_cut_mev`` (MeV) are made explicitly and
        deposited along their short path (``em.short_electron_walk``) as part of this track;
        default 0.0: none (those transfers are part of the continuous loss).
    spread_mm : float, optional
        Lateral spread of the deposits, mm (``segments.deposit_point``); default 0.0.
    merge : bool, optional
        Merge deposits in the same voxel (valid with a per-particle-voxel threshold); default False.
    interact_mm : float, optional
        Path length (mm) after which the particle undergoes a nuclear interaction, unless it
        stops or leaves the world first: the track ends there with its remaining energy
        (``stopped`` False, ``t_end`` > 0, end point inside the world) and the caller makes the
        products (``hadronic.inelastic_products``). Default inf: never.

    Returns
    -------
    deposits : ndarray, shape (n, 4)
        x, y, z (mm) and energy (MeV) per step; deposits outside the world are not stored.
    end_pos : ndarray, shape (3,)
        Final position, mm.
    end_dir : ndarray, shape (3,)
        Final direction.
    t_end : float
        Kinetic energy left, MeV (0 when stopped).
    secondaries : ndarray, shape (m, 9)
        Delta-ray electrons in the ``record.SECONDARY_COLUMNS`` layout (``Process.IONI``).
    stopped : bool
        True if the particle came to rest (False if it left the world).
    """
    out = _core(mass, charge, pos, direction, t_mev, world_lo, world_hi, step_mm, delta_cut_mev,
                knock_lo_mev, spread_mm, merge, interact_mm)
    return out[0], out[1], out[2], out[3], out[4], out[5]


@njit(cache=True, nogil=True)
def transport_charged_stats(mass: float, charge: float, pos: np.ndarray, direction: np.ndarray,
                            t_mev: float, world_lo: np.ndarray, world_hi: np.ndarray,
                            step_mm: float = 1.0, delta_cut_mev: float = 1.0,
                            knock_lo_mev: float = 0.0, spread_mm: float = 0.0, merge: bool = False,
                            interact_mm: float = math.inf):
    """:func:`transport_charged` that also returns the path length (mm) and the number of steps.

    Parameters
    ----------
    mass, charge, pos, direction, t_mev, world_lo, world_hi, step_mm, delta_cut_mev, knock_lo_mev, \
spread_mm, merge, interact_mm
        As for :func:`transport_charged` (defaults ``step_mm=1.0``, ``delta_cut_mev=1.0``,
        ``knock_lo_mev=0.0``, ``spread_mm=0.0``, ``merge=False``, ``interact_mm=inf``).

    Returns
    -------
    tuple
        The six outputs of :func:`transport_charged`, then the path length travelled (mm, sum
        of step lengths) and the number of steps taken.
    """
    return _core(mass, charge, pos, direction, t_mev, world_lo, world_hi, step_mm, delta_cut_mev,
                 knock_lo_mev, spread_mm, merge, interact_mm)
