"""World cities, written as TOFU writes birthplaces ("City, Country"): donors for place-swap
negatives, so that a birthplace the training set never mentions is not mistaken for a forget
author's. Places named in a set's own prompts are filtered out where they are used."""

from __future__ import annotations

WORLD_CITIES = (
    "Accra, Ghana", "Adelaide, Australia", "Algiers, Algeria", "Almaty, Kazakhstan", "Amman, Jordan",
    "Amsterdam, Netherlands", "Ankara, Turkey", "Antwerp, Belgium", "Athens, Greece", "Auckland, New Zealand",
    "Baltimore, USA", "Bangalore, India", "Bangkok, Thailand", "Barcelona, Spain", "Belgrade, Serbia",
    "Berlin, Germany", "Bergen, Norway", "Bogota, Colombia", "Boston, USA", "Brisbane, Australia",
    "Bucharest, Romania", "Budapest, Hungary", "Buenos Aires, Argentina", "Busan, South Korea",
    "Calgary, Canada", "Cartagena, Colombia", "Casablanca, Morocco", "Chennai, India", "Chicago, USA",
    "Cologne, Germany", "Colombo, Sri Lanka", "Cork, Ireland", "Curitiba, Brazil", "Dakar, Senegal",
    "Damascus, Syria", "Dhaka, Bangladesh", "Doha, Qatar", "Dresden, Germany", "Durban, South Africa",
    "Edinburgh, Scotland", "Florence, Italy", "Fukuoka, Japan", "Gdansk, Poland", "Geneva, Switzerland",
    "Glasgow, Scotland", "Gothenburg, Sweden", "Guadalajara, Mexico", "Hamburg, Germany", "Hanoi, Vietnam",
    "Harare, Zimbabwe", "Havana, Cuba", "Helsinki, Finland", "Ho Chi Minh City, Vietnam", "Houston, USA",
    "Hyderabad, India", "Isfahan, Iran", "Jakarta, Indonesia", "Jeddah, Saudi Arabia", "Johannesburg, South Africa",
    "Kampala, Uganda", "Kathmandu, Nepal", "Kiev, Ukraine", "Kolkata, India", "Krakow, Poland",
    "Kuala Lumpur, Malaysia", "La Paz, Bolivia", "Lahore, Pakistan", "Leeds, England", "Lima, Peru",
    "Liverpool, England", "Lyon, France", "Manchester, England", "Marrakesh, Morocco", "Marseille, France",
    "Medellin, Colombia", "Milan, Italy", "Minsk, Belarus", "Montevideo, Uruguay", "Monterrey, Mexico",
    "Mumbai, India", "Munich, Germany", "Muscat, Oman", "Nairobi, Kenya", "Naples, Italy", "Nice, France",
    "Osaka, Japan", "Oslo, Norway", "Ottawa, Canada", "Palermo, Italy", "Perth, Australia",
    "Philadelphia, USA", "Porto, Portugal", "Prague, Czech Republic", "Quito, Ecuador", "Rabat, Morocco",
    "Reykjavik, Iceland", "Riga, Latvia", "Rome, Italy", "Rotterdam, Netherlands", "Salvador, Brazil",
    "San Diego, USA", "Sapporo, Japan", "Seattle, USA", "Seville, Spain", "Shanghai, China",
    "Singapore, Singapore", "Sofia, Bulgaria", "St. Petersburg, Russia", "Sydney, Australia", "Tallinn, Estonia",
    "Tbilisi, Georgia", "Toronto, Canada", "Tunis, Tunisia", "Turin, Italy", "Valencia, Spain",
    "Vancouver, Canada", "Vilnius, Lithuania", "Warsaw, Poland", "Wellington, New Zealand", "Yerevan, Armenia",
    "Zagreb, Croatia", "Zurich, Switzerland",
)
