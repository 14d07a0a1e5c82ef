"""Questions and answers: deciding what to answer (:mod:`~bot.qa.deciding`: emergencies and crises first,
small talk, refusals, then the knowledge base's retrieval and calibration) and building the replies
(:mod:`~bot.qa.replies`); the detectors, the language of a question, and the evaluation on the tuning set."""
