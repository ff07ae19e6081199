"""Synthetic, realistic-looking cohorts for solver tests and the benchmark (seeded)."""

from __future__ import annotations

import numpy as np

from matching.scoring import Person

TOPICS = [
    "Data analytics", "AI tools", "Social media", "TikTok", "Prompt writing", "Python",
    "Spreadsheets", "Remote collaboration", "Design thinking", "Agile", "Cybersecurity",
    "Gen Z consumers", "Mobile apps", "No-code tools", "Video editing", "Podcasting",
    "LinkedIn", "Sustainability", "Cloud basics", "Automation", "DEI", "Gaming",
    "Personal branding", "E-commerce", "Crypto", "Hybrid work", "Mental health",
    "Accessibility", "UX research", "Storytelling",
]
INTERESTS = [f"interest-{k}" for k in range(40)]
ZONES = ["Europe/London", "Europe/Paris", "Europe/Berlin", "America/New_York",
         "America/Chicago", "America/Los_Angeles", "Asia/Kolkata", "Asia/Singapore",
         "Asia/Tokyo", "Australia/Sydney"]
ZONE_WEIGHTS = [0.2, 0.15, 0.1, 0.18, 0.07, 0.08, 0.1, 0.05, 0.04, 0.03]
WINDOWS = [(d, s, e) for d in range(5) for s, e in
           (("08:00", "10:00"), ("09:00", "12:00"), ("12:00", "13:30"), ("14:00", "17:00"),
            ("16:00", "18:00"))]
DEPARTMENTS = [f"Dept {k}" for k in range(12)]
LANGUAGES = ["English", "French", "German", "Spanish", "Hindi", "Japanese"]


def cohort(mentees: int, mentors: int, *, seed: int = 7, capacities: tuple[int, ...] = (1,),
           relations: bool = True) -> tuple[list[Person], list[Person]]:
    """`mentees` seniors and `mentors` juniors with surveys drawn from plausible distributions."""
    rng = np.random.default_rng(seed)
    topic_p = 1.0 / np.arange(1, len(TOPICS) + 1) ** 0.8
    topic_p /= topic_p.sum()
    bosses = [f"boss-{k}" for k in range(max(4, mentees // 20))]
    mentee_ids = [f"emp-e{k}" for k in range(mentees)]

    def make(k: int, mentor: bool) -> Person:
        zone = str(rng.choice(ZONES, p=ZONE_WEIGHTS))
        windows = [WINDOWS[int(w)] for w in rng.choice(len(WINDOWS), rng.integers(2, 5),
                                                       replace=False)]
        picks = rng.choice(len(TOPICS), 3, replace=False, p=topic_p)
        boss = bosses[int(rng.integers(len(bosses)))]
        chain: tuple[str, ...] = (boss, "ceo")
        if mentor and relations and mentees and rng.random() < 0.02:
            chain = (mentee_ids[int(rng.integers(mentees))], boss, "ceo")
        avoid: tuple[str, ...] = ()
        if relations and mentees and rng.random() < 0.01:
            avoid = (mentee_ids[int(rng.integers(mentees))],)
        languages = ["English"]
        if rng.random() < 0.3:
            languages.append(LANGUAGES[int(rng.integers(1, len(LANGUAGES)))])
        prefix = "r" if mentor else "e"
        return Person(
            participant_id=f"p-{prefix}{k}", employee_id=f"emp-{prefix}{k}",
            given_name=f"Name{k}",
            job_level=int(rng.integers(1, 6)) if mentor else int(rng.integers(5, 13)),
            department=DEPARTMENTS[int(rng.integers(len(DEPARTMENTS)))],
            manager_id=chain[0], manager_chain=chain,
            location="London" if rng.random() < 0.5 else "Paris", time_zone=zone,
            topics_teach=tuple((TOPICS[int(t)], int(rng.integers(2, 6))) for t in picks)
            if mentor else (),
            topics_learn=tuple((TOPICS[int(t)], rank) for rank, t in enumerate(picks, 1))
            if not mentor else (),
            interests=tuple(INTERESTS[int(x)] for x in rng.choice(len(INTERESTS), 4,
                                                                    replace=False)),
            availability=tuple(windows),
            meeting_formats=("virtual",) if rng.random() < 0.8 else ("in_person",),
            languages=tuple(languages),
            capacity=int(rng.choice(capacities)),
            dei_opt_in=bool(mentor and rng.random() < 0.3),
            avoid_employee_ids=avoid,
        )

    return [make(k, False) for k in range(mentees)], [make(k, True) for k in range(mentors)]
