//! Hash maps for the engine's own lookups by name: doctypes, documents and
//! fields, asked for many times for every document saved or synced. The
//! standard SipHash was about 7 % of a catch-up's applying thread; foldhash
//! is several times quicker on such short keys, and is seeded at random
//! for each map, so names from another site cannot be chosen in advance to
//! collide.

pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
