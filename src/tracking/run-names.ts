/** Random run names in MLflow's style: `<adjective>-<noun>-<number>`. */
import { randomInt } from 'node:crypto';

const ADJECTIVES = [
  'able', 'agile', 'amazing', 'bold', 'brave', 'bright', 'calm', 'capable', 'carefree', 'clever', 'colorful', 'crisp',
  'dapper', 'daring', 'defiant', 'eager', 'efficient', 'enchanting', 'fearless', 'funny', 'gentle', 'gifted', 'glamorous',
  'grandiose', 'handsome', 'honorable', 'industrious', 'intelligent', 'judicious', 'kindly', 'lively', 'loyal', 'luxuriant',
  'magnificent', 'merciful', 'mysterious', 'nimble', 'omniscient', 'patient', 'polite', 'popular', 'powerful', 'quiet',
  'rare', 'resilient', 'righteous', 'rogue', 'salty', 'secretive', 'selective', 'silent', 'skillful', 'smiling', 'spiffy',
  'stately', 'sweet', 'thoughtful', 'trusting', 'unique', 'upbeat', 'valuable', 'vaunted', 'victorious', 'welcoming',
  'whimsical', 'wise', 'youthful', 'zealous',
];

const NOUNS = [
  'ant', 'ape', 'asp', 'bass', 'bat', 'bear', 'bee', 'bird', 'boar', 'bug', 'calf', 'carp', 'cat', 'chimp', 'cod', 'colt',
  'conch', 'cow', 'crab', 'crane', 'croc', 'crow', 'cub', 'deer', 'doe', 'dog', 'dolphin', 'donkey', 'dove', 'duck', 'eel',
  'elk', 'fawn', 'finch', 'fish', 'flea', 'fly', 'foal', 'fowl', 'fox', 'frog', 'gnat', 'gnu', 'goat', 'goose', 'grouse',
  'grub', 'gull', 'hare', 'hawk', 'hen', 'hog', 'horse', 'hound', 'jay', 'kit', 'kite', 'koi', 'lamb', 'lark', 'loon',
  'lynx', 'mare', 'midge', 'mink', 'mole', 'moose', 'moth', 'mouse', 'mule', 'newt', 'owl', 'ox', 'panda', 'penguin',
  'perch', 'pig', 'pug', 'quail', 'ram', 'rat', 'ray', 'robin', 'roo', 'rook', 'seal', 'shad', 'shark', 'sheep', 'shoat',
  'shrew', 'shrike', 'shrimp', 'skink', 'skunk', 'sloth', 'slug', 'smelt', 'snail', 'snake', 'snipe', 'sow', 'sponge',
  'squid', 'squirrel', 'stag', 'steed', 'stoat', 'stork', 'swan', 'tern', 'toad', 'trout', 'turtle', 'vole', 'wasp',
  'whale', 'wolf', 'worm', 'wren', 'yak', 'zebra',
];

/** A fresh random run name such as `clever-owl-472`. */
export function randomRunName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${NOUNS[randomInt(NOUNS.length)]}-${randomInt(1000)}`;
}
