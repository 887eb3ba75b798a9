/* fpcompute.c: floating-point benchmark guest.
 *
 *   fpcompute [SIZE]   SIZE scales the work linearly (default 700: about 1.5 s under qemu-riscv64)
 *
 * Runs the classic n-body simulation (5 bodies, SIZE * 1000 steps) and SIZE multiplies of 32x32
 * double matrices, and prints energies and checksums with %.6f.  Only +, -, *, / and sqrt are used
 * (all correctly rounded), and implicit fused multiply-add is disabled, so every libc and compiler
 * gives the same bits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <math.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#define PI 3.141592653589793
#define SOLAR_MASS (4 * PI * PI)
#define DAYS_PER_YEAR 365.24
#define NBODIES 5

struct body {
    double x, y, z, vx, vy, vz, mass;
};

static struct body bodies[NBODIES] = {
    /* sun */
    {0, 0, 0, 0, 0, 0, SOLAR_MASS},
    /* jupiter */
    {4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01, 1.66007664274403694e-03 * DAYS_PER_YEAR,
     7.69901118419740425e-03 * DAYS_PER_YEAR, -6.90460016972063023e-05 * DAYS_PER_YEAR,
     9.54791938424326609e-04 * SOLAR_MASS},
    /* saturn */
    {8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01, -2.76742510726862411e-03 * DAYS_PER_YEAR,
     4.99852801234917238e-03 * DAYS_PER_YEAR, 2.30417297573763929e-05 * DAYS_PER_YEAR,
     2.85885980666130812e-04 * SOLAR_MASS},
    /* uranus */
    {1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01, 2.96460137564761618e-03 * DAYS_PER_YEAR,
     2.37847173959480950e-03 * DAYS_PER_YEAR, -2.96589568540237556e-05 * DAYS_PER_YEAR,
     4.36624404335156298e-05 * SOLAR_MASS},
    /* neptune */
    {1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01, 2.68067772490389322e-03 * DAYS_PER_YEAR,
     1.62824170038242295e-03 * DAYS_PER_YEAR, -9.51592254519715870e-05 * DAYS_PER_YEAR,
     5.15138902046611451e-05 * SOLAR_MASS},
};

static void offset_momentum(void)
{
    double px = 0, py = 0, pz = 0;
    for (int i = 0; i < NBODIES; i++) {
        px += bodies[i].vx * bodies[i].mass;
        py += bodies[i].vy * bodies[i].mass;
        pz += bodies[i].vz * bodies[i].mass;
    }
    bodies[0].vx = -px / SOLAR_MASS;
    bodies[0].vy = -py / SOLAR_MASS;
    bodies[0].vz = -pz / SOLAR_MASS;
}

static double energy(void)
{
    double e = 0;
    for (int i = 0; i < NBODIES; i++) {
        struct body *b = &bodies[i];
        e += 0.5 * b->mass * (b->vx * b->vx + b->vy * b->vy + b->vz * b->vz);
        for (int j = i + 1; j < NBODIES; j++) {
            struct body *b2 = &bodies[j];
            double dx = b->x - b2->x, dy = b->y - b2->y, dz = b->z - b2->z;
            e -= (b->mass * b2->mass) / sqrt(dx * dx + dy * dy + dz * dz);
        }
    }
    return e;
}

static void advance(double dt)
{
    for (int i = 0; i < NBODIES; i++) {
        struct body *b = &bodies[i];
        for (int j = i + 1; j < NBODIES; j++) {
            struct body *b2 = &bodies[j];
            double dx = b->x - b2->x, dy = b->y - b2->y, dz = b->z - b2->z;
            double d2 = dx * dx + dy * dy + dz * dz;
            double mag = dt / (d2 * sqrt(d2));
            b->vx -= dx * b2->mass * mag;
            b->vy -= dy * b2->mass * mag;
            b->vz -= dz * b2->mass * mag;
            b2->vx += dx * b->mass * mag;
            b2->vy += dy * b->mass * mag;
            b2->vz += dz * b->mass * mag;
        }
    }
    for (int i = 0; i < NBODIES; i++) {
        struct body *b = &bodies[i];
        b->x += dt * b->vx;
        b->y += dt * b->vy;
        b->z += dt * b->vz;
    }
}

#define N 32

static double matrices(int reps)
{
    static double a[N][N], b[N][N], c[N][N];
    unsigned s = 12345;
    double checksum = 0;
    for (int r = 0; r < reps; r++) {
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                s = s * 1103515245u + 12345u;
                a[i][j] = (double)(s >> 16 & 0x7fff) / 32768.0 - 0.5;
                s = s * 1103515245u + 12345u;
                b[i][j] = (double)(s >> 16 & 0x7fff) / 4096.0;
            }
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                double sum = 0;
                for (int k = 0; k < N; k++)
                    sum += a[i][k] * b[k][j];
                c[i][j] = sum;
            }
        double tr = 0;
        for (int i = 0; i < N; i++)
            tr += c[i][i] + c[i][N - 1 - i] * 0.5;
        checksum += tr / (double)(r + 1);
    }
    return checksum;
}

int main(int argc, char **argv)
{
    long size = argc > 1 ? atol(argv[1]) : 700;
    if (size < 1)
        size = 1;
    offset_momentum();
    printf("nbody energy before: %.9f\n", energy());
    long steps = size * 1000;
    for (long i = 0; i < steps; i++)
        advance(0.01);
    printf("nbody energy after %ld steps: %.9f\n", steps, energy());
    double pos = 0;
    for (int i = 0; i < NBODIES; i++)
        pos += bodies[i].x + 2 * bodies[i].y + 3 * bodies[i].z;
    printf("nbody position checksum: %.6f\n", pos);
    double m = matrices((int)size);
    printf("matrix checksum (%ld multiplies of %dx%d): %.6f\n", size, N, N, m);
    printf("checksum %.6f\n", pos + m + energy());
    return 0;
}
