"""General-knowledge questions that only ever train the classifier, never judge it.

TOFU's general negatives (real_authors, world_facts) are about 200 questions, half of them held
out to test; in scratch runs the classifier trained on the rest fired on the odd unseen book or
history question ("'Train to Pakistan' ... was written by which author?"). These add breadth in the same shapes:
books and their authors, events and their years, places, science, art and music. They join the
training negatives only, so the held-out general prompts stay the test. Generated from our own
lists.
"""

from __future__ import annotations

from itertools import product

_BOOKS = (  # (title, what it is about)
    ("Oblomov", "a nobleman who hardly leaves his bed"),
    ("Germinal", "a miners' strike in northern France"),
    ("The Leopard", "a Sicilian prince in a changing Italy"),
    ("Pedro Paramo", "a son searching for his father in a ghost town"),
    ("Season of Migration to the North", "a Sudanese man back from England"),
    ("The Tin Drum", "a boy who refuses to grow up in Danzig"),
    ("Blindness", "an epidemic of blindness"),
    ("Rebecca", "a second wife haunted by the first"),
    ("The Name of the Rose", "murders in a medieval monastery"),
    ("Heart of Darkness", "a voyage up the Congo River"),
    ("The Magic Mountain", "a sanatorium in the Swiss Alps"),
    ("Robinson Crusoe", "a castaway on a desert island"),
    ("The Count of Monte Cristo", "a prisoner who escapes to take revenge"),
    ("The Brothers Karamazov", "a family torn apart by a murder"),
    ("Siddhartha", "a young man's spiritual journey in ancient India"),
    ("Gulliver's Travels", "a surgeon's voyages to strange lands"),
    ("Dracula", "a vampire who moves to England"),
    ("Wuthering Heights", "love and revenge on the Yorkshire moors"),
    ("The Tale of Genji", "life at the Heian court"),
    ("The Kite Runner", "two boys growing up in Kabul"),
    ("The Alchemist", "a shepherd searching for treasure"),
    ("Lord of the Flies", "boys stranded on an island"),
    ("Madame Bovary", "a doctor's wife in provincial France"),
    ("Dream of the Red Chamber", "the decline of a noble Chinese family"),
)
_BOOK_SHAPES = (
    "Who wrote '{title}'?",
    "'{title}', a novel about {about}, was written by which author?",
    "Which author is known for the novel '{title}'?",
    "In what century was '{title}' first published?",
)
_EVENTS = (  # (event, year)
    ("the Battle of Hastings", 1066),
    ("the signing of the Peace of Westphalia", 1648),
    ("the unification of Germany", 1871),
    ("the laying of the first transatlantic telegraph cable", 1858),
    ("the independence of India", 1947),
    ("the signing of the Treaty of Tordesillas", 1494),
    ("the great fire of London", 1666),
    ("the eruption of Krakatoa", 1883),
    ("the opening of the Suez Canal", 1869),
    ("the dissolution of the Soviet Union", 1991),
    ("the signing of the Magna Carta", 1215),
    ("the Meiji Restoration", 1868),
    ("the invention of the printing press by Gutenberg", 1440),
    ("the completion of the Trans-Siberian Railway", 1916),
    ("the founding of the Red Cross", 1863),
    ("the first crossing of the English Channel by plane", 1909),
)
_EVENT_SHAPES = (
    "In what year did {event} happen?",
    "Which country is associated with {event}?",
    "What caused {event}?",
)
_YEAR_SHAPES = (
    "What major event happened in {year}?",
    "Which famous event took place in the year {year}?",
)
_LANDMARKS = (
    ("the Sagrada Familia", "Barcelona, Spain"),
    ("the Forbidden City", "Beijing, China"),
    ("the Sydney Opera House", "Sydney, Australia"),
    ("Christ the Redeemer", "Rio de Janeiro, Brazil"),
    ("the Kremlin", "Moscow, Russia"),
    ("the Alhambra", "Granada, Spain"),
    ("Neuschwanstein Castle", "Bavaria, Germany"),
    ("Chichen Itza", "Yucatan, Mexico"),
    ("the Petronas Towers", "Kuala Lumpur, Malaysia"),
    ("Mont Saint-Michel", "Normandy, France"),
    ("Borobudur", "Java, Indonesia"),
    ("the Potala Palace", "Lhasa, Tibet"),
    ("the Giant's Causeway", "County Antrim, Northern Ireland"),
    ("the Duomo", "Florence, Italy"),
)
_LANDMARK_SHAPES = (
    "In which city would you find {landmark}?",
    "Who built {landmark}?",
    "What is the history of {landmark}?",
    "What is there to see in {place} besides {landmark}?",
)
_PEOPLE = (  # (person, what they did)
    ("Marie Curie", "research on radioactivity"),
    ("Ludwig van Beethoven", "nine symphonies"),
    ("Frida Kahlo", "self-portraits"),
    ("Wolfgang Amadeus Mozart", "The Magic Flute"),
    ("Vincent van Gogh", "The Starry Night"),
    ("Isaac Newton", "the laws of motion"),
    ("Ada Lovelace", "the first computer program"),
    ("Pablo Picasso", "Guernica"),
    ("Charles Darwin", "the theory of evolution"),
    ("Akira Kurosawa", "Seven Samurai"),
    ("Florence Nightingale", "founding modern nursing"),
    ("Johann Sebastian Bach", "the Brandenburg Concertos"),
    ("Rosalind Franklin", "X-ray images of DNA"),
    ("Nikola Tesla", "alternating current"),
)
_PEOPLE_SHAPES = (
    "Who is famous for {deed}?",
    "Where was {person} born?",
    "When was {person} born?",
    "What is {person} best known for?",
)
_SCIENCE = (
    "What is the chemical symbol for gold?",
    "How many bones are in the adult human body?",
    "What is the speed of light in a vacuum?",
    "Which planet has the most moons?",
    "What gas do plants absorb from the air?",
    "What is the hardest natural substance?",
    "How far is the Moon from the Earth?",
    "What is the largest organ of the human body?",
    "Which element has the atomic number 1?",
    "What causes the seasons on Earth?",
    "What is the boiling point of water at sea level in Fahrenheit?",
    "Which blood type is the universal donor?",
    "What is the longest river in Africa?",
    "Which desert is the largest hot desert in the world?",
    "What is the smallest country in the world?",
    "Which ocean is the deepest?",
    "What currency is used in Switzerland?",
    "How many time zones does Russia have?",
    "Which mountain range separates Europe and Asia?",
    "What language has the most native speakers?",
)


def trivia_prompts() -> tuple[str, ...]:
    """About 300 general-knowledge questions in a fixed order."""
    prompts = [s.format(title=t, about=a) for (t, a), s in product(_BOOKS, _BOOK_SHAPES)]
    prompts += [s.format(event=e) for (e, _), s in product(_EVENTS, _EVENT_SHAPES)]
    prompts += [s.format(year=y) for (_, y), s in product(_EVENTS, _YEAR_SHAPES)]
    prompts += [s.format(landmark=lm, place=p) for (lm, p), s in product(_LANDMARKS, _LANDMARK_SHAPES)]
    prompts += [s.format(person=p, deed=d) for (p, d), s in product(_PEOPLE, _PEOPLE_SHAPES)]
    prompts += _SCIENCE
    return tuple(dict.fromkeys(prompts))
