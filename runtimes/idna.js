// osscname IDNA checks for core.js where the platform has a URL parser (the Cloudflare Worker): the
// two functions core.js leaves to its platform, toAscii and validALabel, as close to the middleware's
// IDNA (osscname.hosts, the idna package: IDNA 2008 with UTS #46 mapping) as a Worker can cheaply get.
// What differs is declared on the wildcard feature (generators/cloudflare.py).

// A non-ASCII name mapped to A-labels by the URL parser (UTS #46, as IDNA's mapping), or null. Its
// ASCII characters must be ones a host name holds: the parser would read ':', '/', '%', ... as syntax.
function toAscii(name) {
  if (/[\x00-\x2c\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]/.test(name)) {
    return null;
  }
  try {
    return new URL('http://' + name + '/').hostname;
  } catch (invalid) {
    return null;
  }
}

// An A-label decodes (Punycode) to a U-label that holds non-ASCII, has no hyphen where IDNA forbids one,
// and that the URL parser encodes back to this very label (so it is mapped, canonical and allowed by
// UTS #46; IDNA 2008 allows fewer code points, which is what remains different).
function validALabel(label) {
  const points = punycode(label.slice(4));
  if (!points || !points.some((point) => point > 0x7f) || points[0] === 45 || points[points.length - 1] === 45 ||
      (points[2] === 45 && points[3] === 45)) {
    return false;
  }
  try {
    return new URL('http://' + String.fromCodePoint.apply(null, points) + '/').hostname === label;
  } catch (invalid) {
    return false;
  }
}

// RFC 3492 decoding of an A-label without its 'xn--' (lower-case LDH): its code points, or null.
function punycode(text) {
  const points = [];
  let code = 128;
  let at = 0;
  let bias = 72;
  let next = text.lastIndexOf('-');
  for (let j = 0; j < next; j++) {
    points.push(text.charCodeAt(j));
  }
  for (next += 1; next < text.length;) {
    const old = at;
    for (let weight = 1, k = 36; ; k += 36) {
      const c = next < text.length ? text.charCodeAt(next++) : 0;
      const digit = c >= 97 && c <= 122 ? c - 97 : c >= 48 && c <= 57 ? c - 22 : 36;
      if (digit === 36) {
        return null;
      }
      at += digit * weight;
      const threshold = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
      if (at > 0x7fffffff) {
        return null;
      }
      if (digit < threshold) {
        break;
      }
      weight *= 36 - threshold;
    }
    let delta = old === 0 ? Math.floor((at - old) / 700) : Math.floor((at - old) / 2);
    delta += Math.floor(delta / (points.length + 1));
    let k = 0;
    for (; delta > 455; k += 36) {
      delta = Math.floor(delta / 35);
    }
    bias = k + Math.floor((36 * delta) / (delta + 38));
    code += Math.floor(at / (points.length + 1));
    at %= points.length + 1;
    if (code > 0x10ffff) {
      return null;
    }
    points.splice(at++, 0, code);
  }
  return points;
}

