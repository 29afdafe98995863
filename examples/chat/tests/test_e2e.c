#include "chat.h"
int
main(void)
{
    return 0;
}
