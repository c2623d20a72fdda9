"""Detector geometry, liquid-argon properties and particle data used by the simulator.

All lengths in mm, energies in MeV, times in microseconds unless a name says otherwise.

References
----------
- PDG, "Atomic and nuclear properties of materials: liquid argon" (pdg.lbl.gov/AtomicNuclearProperties):
  density, mean excitation energy, Z/A, radiation length, Moliere radius, critical energy,
  density-effect (Sternheimer) parameters.
- PDG Review of Particle Physics (2024), "Passage of particles through matter": K, Bethe-Bloch,
  Highland formula, delta-ray spectrum.
- CODATA 2018 through ``scipy.constants`` for the lepton and proton masses.
- T. Suzuki, D. F. Measday, J. P. Roalsvig, Phys. Rev. C 35 (1987) 2212: mu- lifetime in argon
  (537 ns), hence the capture rate.
"""

from scipy.constants import physical_constants as _pc

from michelreco.constants import ACTIVE_MM, GRID_VOXELS, MICHEL_ENDPOINT_MEV, VOXEL_MM

__all__ = [
    "VOXEL_MM", "GRID_VOXELS", "ACTIVE_MM", "WORLD_MARGIN_MM",
    "LAR_DENSITY_G_CM3", "LAR_I_MEV", "LAR_Z_OVER_A", "LAR_Z",
    "LAR_X0_MM", "LAR_MOLIERE_MM", "LAR_CRITICAL_MEV", "LAR_MIP_DEDX_MEV_MM", "LAR_W_ION_MEV",
    "STERNHEIMER", "K_MEV_CM2_MOL",
    "M_E", "M_MU", "M_PI", "M_P",
    "PDG_E", "PDG_GAMMA", "PDG_MU", "PDG_PI", "PDG_P", "PDG_N",
    "MICHEL_ENDPOINT_MEV", "MU_LIFETIME_US", "MU_MINUS_CAPTURE_RATE_PER_US",
    "MU_MINUS_DECAY_FRACTION", "PI_DECAY_MU_KE_MEV", "DEPOSIT_THRESHOLD_MEV",
    "ALPHA_FS",
]

# --- detector ---------------------------------------------------------------------------------
# the (2.3 m)^3 active volume, [0, ACTIVE_MM) per axis, in 3 mm voxels: michelreco.constants
WORLD_MARGIN_MM = 400.0             # the first simulator's world margin (clean preset); see EventConfig
DEPOSIT_THRESHOLD_MEV = 0.05        # Geant4 deposits below this are not recorded (docs/simulation.md §8)

# --- liquid argon (PDG AtomicNuclearProperties, "Liquid argon (Ar)") ---------------------------
LAR_DENSITY_G_CM3 = 1.396
LAR_I_MEV = 188.0e-6
LAR_Z_OVER_A = 0.4509               # Z/A of argon, 18 / 39.948
LAR_Z = 18
LAR_X0_MM = 140.0                   # radiation length, 19.55 g/cm^2 / 1.396 g/cm^3
LAR_MOLIERE_MM = 90.4
LAR_CRITICAL_MEV = 32.84            # critical energy for electrons (Rossi definition)
LAR_MIP_DEDX_MEV_MM = 0.2105        # minimum ionization, 1.508 MeV cm^2/g
LAR_W_ION_MEV = 23.6e-6             # energy per ion pair
# Sternheimer density-effect parameters for liquid argon: -C, x0, x1, a, k, delta0
STERNHEIMER = {"C": 5.2146, "x0": 0.2, "x1": 3.0, "a": 0.19559, "k": 3.0, "delta0": 0.0}

K_MEV_CM2_MOL = 0.307075            # 4 pi N_A r_e^2 m_e c^2 (PDG)

# --- particle masses in MeV (CODATA 2018 via scipy; pion from PDG 2024) ------------------------
M_E = _pc["electron mass energy equivalent in MeV"][0]
M_MU = _pc["muon mass energy equivalent in MeV"][0]
M_P = _pc["proton mass energy equivalent in MeV"][0]
M_PI = 139.57039                    # charged pion, PDG 2024
ALPHA_FS = _pc["fine-structure constant"][0]  # CODATA 2018 via scipy: radiative corrections, mu- atom

PDG_E, PDG_GAMMA, PDG_MU, PDG_PI, PDG_P, PDG_N = 11, 22, 13, 211, 2212, 2112

# --- muon decay and capture ---------------------------------------------------------------------
# MICHEL_ENDPOINT_MEV (W = (m_mu^2 + m_e^2) / 2 m_mu = 52.83 MeV, the maximum e energy): michelreco.constants
MU_LIFETIME_US = 2.1969811          # free muon lifetime, PDG 2024
MU_MINUS_CAPTURE_RATE_PER_US = 1.0 / 0.537 - 1.0 / MU_LIFETIME_US * 0.993  # Suzuki 1987; Huff factor 0.993
MU_MINUS_DECAY_FRACTION = (0.993 / MU_LIFETIME_US) / (1.0 / 0.537)         # about 0.25: decay in orbit
PI_DECAY_MU_KE_MEV = ((M_PI - M_MU) ** 2) / (2.0 * M_PI)                   # 4.12 MeV, pi+ at rest
